"""vote-secret: a secret ballot over HTTP (FastAPI).

A poll has a question, its options and, if asked for, a number of single-use
ballots. A vote adds one to an option's count and, when the poll has ballots,
burns one: nothing links a ballot, or a voter, to the option chosen. Polls and
counts live in SQLite under the unit's StateDirectory.

    POST /api/polls                 {"question": "...", "options": ["a", "b"], "ballots": 3}
                                    -> 201 {"id": "...", "ballots": ["...", ...]}
    POST /api/polls/{id}/votes      {"option": 0, "ballot": "..."} -> 204
    GET  /api/polls/{id}            -> {"question": ..., "tally": {"a": 1, "b": 0}, "votes": 1}
    GET  /api/health                -> {"status": "ok"} once the database answers
"""
import os
import secrets
import sqlite3
from typing import List, Optional

from fastapi import FastAPI, HTTPException, Response
from pydantic import BaseModel, conint, constr

STATE = os.environ.get("STATE_DIRECTORY", "/var/lib/vote-secret")
DB = os.path.join(STATE, "ballots.db")

SCHEMA = """
CREATE TABLE IF NOT EXISTS polls (id TEXT PRIMARY KEY, question TEXT NOT NULL, ballots INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS options (poll TEXT NOT NULL, idx INTEGER NOT NULL, label TEXT NOT NULL,
    votes INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (poll, idx));
CREATE TABLE IF NOT EXISTS ballots (token TEXT PRIMARY KEY, poll TEXT NOT NULL);
"""


def connect() -> sqlite3.Connection:
    db = sqlite3.connect(DB, timeout=10, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 10000")
    return db


app = FastAPI(title="vote-secret")


@app.on_event("startup")
def create_schema():
    # At startup, not import: importing the app (gunicorn --check-config does)
    # must not need the state directory, which systemd creates at start.
    with connect() as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript(SCHEMA)


class NewPoll(BaseModel):
    question: constr(min_length=1, max_length=500)
    options: List[constr(min_length=1, max_length=200)]
    ballots: conint(ge=0, le=10000) = 0


class Vote(BaseModel):
    option: conint(ge=0)
    ballot: Optional[str] = None


@app.get("/api/health")
def health():
    with connect() as db:
        db.execute("SELECT 1").fetchone()
    return {"status": "ok"}


@app.post("/api/polls", status_code=201)
def create_poll(poll: NewPoll):
    if not 2 <= len(poll.options) <= 50:
        raise HTTPException(422, "a poll has 2 to 50 options")
    pid = secrets.token_urlsafe(9)
    tokens = [secrets.token_urlsafe(16) for _ in range(poll.ballots)]
    db = connect()
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO polls VALUES (?, ?, ?)", (pid, poll.question, poll.ballots))
        db.executemany("INSERT INTO options (poll, idx, label) VALUES (?, ?, ?)",
                       [(pid, i, label) for i, label in enumerate(poll.options)])
        db.executemany("INSERT INTO ballots VALUES (?, ?)", [(t, pid) for t in tokens])
        db.execute("COMMIT")
    finally:
        db.close()
    return {"id": pid, "ballots": tokens}


@app.post("/api/polls/{pid}/votes", status_code=204)
def vote(pid: str, v: Vote):
    db = connect()
    try:
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT ballots FROM polls WHERE id = ?", (pid,)).fetchone()
        if row is None:
            raise HTTPException(404, "no such poll")
        if row[0] > 0:
            burnt = db.execute("DELETE FROM ballots WHERE token = ? AND poll = ?", (v.ballot or "", pid)).rowcount
            if burnt != 1:
                raise HTTPException(403, "this ballot is not valid for this poll, or was used")
        if db.execute("UPDATE options SET votes = votes + 1 WHERE poll = ? AND idx = ?", (pid, v.option)).rowcount != 1:
            raise HTTPException(422, "no such option")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    finally:
        db.close()
    return Response(status_code=204)


@app.get("/api/polls/{pid}")
def tally(pid: str):
    with connect() as db:
        row = db.execute("SELECT question FROM polls WHERE id = ?", (pid,)).fetchone()
        if row is None:
            raise HTTPException(404, "no such poll")
        opts = db.execute("SELECT label, votes FROM options WHERE poll = ? ORDER BY idx", (pid,)).fetchall()
    return {"question": row[0], "tally": {label: n for label, n in opts}, "votes": sum(n for _, n in opts)}
