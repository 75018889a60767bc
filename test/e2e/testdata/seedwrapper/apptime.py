"""Time from starting the bare app to its first healthy answer, in ms."""
import subprocess
import sys
import time
import urllib.request

start = time.monotonic()
app = subprocess.Popen([sys.executable, sys.argv[1]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    while True:
        try:
            urllib.request.urlopen("http://127.0.0.1:5001/health", timeout=1).read()
            break
        except OSError:
            time.sleep(0.002)
    print(round((time.monotonic() - start) * 1000, 1))
finally:
    app.terminate()
    app.wait()
