"""The bare "hello" page the queue pages are compared with (served by the same gunicorn settings).

    gunicorn --workers 2 --bind 127.0.0.1:PORT benchmarks.hello:app
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "hello"
