"""A bare Flask app with the same shape of endpoints as the mailbox (JSON in, JSON out, no database): the
benchmark's reference for what gunicorn and Flask alone cost on this machine."""

from flask import Flask, jsonify, request

app = Flask(__name__)
_items: list[dict[str, object]] = []


@app.post("/send")
def send() -> tuple[object, int]:
    """Parse the envelope-sized JSON body and answer like a receipt."""
    body = request.get_json()
    return jsonify(index=len(body), state="delivered", receipt="x" * 86), 201


@app.get("/fetch")
def fetch() -> object:
    """Answer a small page."""
    return jsonify(items=[], next_after=int(request.args.get("after", 0)), more=False)
