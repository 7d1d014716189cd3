// One task's Server-Sent Events. EventSource reconnects by itself and sends Last-Event-ID, so a
// dropped connection loses nothing; sequence numbers also guard against any event twice (but a
// queued task's changes of place, which are computed and share the latest stored id).
import { eventsUrl } from "./api.js";
import { EVENT_TYPES, TERMINAL } from "./protocol.js";

export class TaskStream {
  /**
   * @param {string} taskId
   * @param {{after?: number, onEvent: (event: object) => void, onLost: () => void}} options
   *   onEvent gets each TaskEvent ({task_id, seq, type, time, data}) once, in order;
   *   onLost is called when the stream closed for good without a terminal event (404, 204).
   */
  constructor(taskId, { after = 0, onEvent, onLost }) {
    this.taskId = taskId;
    this.lastSeq = after;
    this.closed = false;
    this.source = new EventSource(eventsUrl(taskId, after));
    const handle = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      // A move in the queue is told live, not stored: its "queued" event repeats the latest stored id.
      const placeUpdate = event.type === "queued" && event.seq === this.lastSeq;
      if (this.closed || (event.seq <= this.lastSeq && !placeUpdate)) return;
      this.lastSeq = event.seq;
      if (TERMINAL.has(event.type)) this.close();
      onEvent(event);
    };
    for (const type of EVENT_TYPES) this.source.addEventListener(type, handle);
    this.source.addEventListener("error", () => {
      // CONNECTING means EventSource is retrying by itself; CLOSED means it gave up.
      if (!this.closed && this.source.readyState === EventSource.CLOSED) {
        this.close();
        onLost();
      }
    });
  }

  close() {
    this.closed = true;
    this.source.close();
  }
}
