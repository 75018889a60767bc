"""notifydemo: a minimal Flask app with a health endpoint.

It runs in the foreground; readiness is signalled to systemd by its wrapper.
"""
import os

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from Type=notify demo!\n"


@app.get("/health")
def health():
    return "OK\n", 200


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "5001"))
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=port)
