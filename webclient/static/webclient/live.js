// The /ws/ feed (README, "Real-time events"), authenticated by the session
// cookie: the server checks the page's Origin and answers auth.ok at once.
// A lost connection is retried with exponential backoff (0.5 s doubling to
// 15 s, with jitter) and at once when the browser says it is back online;
// `onOnline` runs after every auth.ok, which is when the app catches up.

const UNAUTHORIZED = 4401;
const MAX_DELAY_MS = 15000;

export class LiveFeed {
  constructor({ onEvent, onOnline, onOffline, onUnauthorized }) {
    Object.assign(this, { onEvent, onOnline, onOffline, onUnauthorized });
    this.socket = null;
    this.stopped = true;
    this.attempt = 0;
    this.timer = null;
    this.online = false;
    this.retryNow = () => {
      if (!this.stopped && !this.online) this.connect();
    };
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this.retryNow);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.retryNow);
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
    this.online = false;
  }

  send(frame) {
    if (this.online && this.socket) this.socket.send(JSON.stringify(frame));
  }

  connect() {
    clearTimeout(this.timer);
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close(1000);
    }
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}/ws/`);
    this.socket = socket;
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event.type === "auth.ok") {
        this.attempt = 0;
        this.online = true;
        this.onOnline(event.user);
      } else {
        this.onEvent(event);
      }
    };
    socket.onclose = (close) => {
      if (socket !== this.socket) return;
      const wasOnline = this.online;
      this.online = false;
      this.socket = null;
      if (this.stopped) return;
      if (close.code === UNAUTHORIZED) {
        this.onUnauthorized();
      }
      if (wasOnline || this.attempt === 0) this.onOffline();
      this.schedule();
    };
  }

  schedule() {
    const delay = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
