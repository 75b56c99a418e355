"""Watch one user's real-time events: log in, open the WebSocket, print every event.

    .venv/bin/python scripts/listen.py alice chat-demo-2026 [http://127.0.0.1:8000]
"""

import json
import sys
import urllib.request

from websockets.sync.client import connect


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    username, password = sys.argv[1], sys.argv[2]
    base = sys.argv[3].rstrip("/") if len(sys.argv) == 4 else "http://127.0.0.1:8000"
    request = urllib.request.Request(
        f"{base}/api/token/",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        token = json.load(response)["access"]
    with connect(base.replace("http", "ws", 1) + "/ws/") as socket:
        socket.send(json.dumps({"type": "auth", "token": token}))
        for frame in socket:
            print(json.dumps(json.loads(frame), indent=2), flush=True)
        print(f"closed: {socket.close_code} {socket.close_reason}")


if __name__ == "__main__":
    main()
