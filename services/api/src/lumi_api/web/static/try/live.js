// A task's progress as it happens: the task event stream (SSE) when this API has it, else
// polling the status route with ?since= (a 304 while nothing changed), as the apps do.
// An EventSource cannot send headers: the stream's sentences (an errorMessage) are in the
// browser's language, so a task that has one is read again with the page's Accept-Language.
import { callerHeaders } from "/static/common/api.js";

const POLL_MS = 1000;
const DONE = new Set(["COMPLETED", "IMAGE_FAILED", "MODEL_FAILED", "FAILED", "CANCELLED", "MODEL_COMPLETED"]);
// the images are ready and wait for a choice: nothing changes until the user picks one
const WAITING = new Set(["IMAGE_COMPLETED"]);

let streams = null; // whether GET /tasks/{id}/events exists, from the OpenAPI document

async function hasEventStreams() {
  if (streams === null) {
    try {
      const document = await (await fetch("/api/openapi.json")).json();
      streams = "/tasks/{task_id}/events" in document.paths;
    } catch {
      streams = false;
    }
  }
  return streams;
}

export class Follower {
  // onTask(task) for every new state; onChannel("SSE" | "polling") once it is known
  constructor(onTask, onChannel) {
    this.onTask = onTask;
    this.onChannel = onChannel;
    this.source = null;
    this.timer = null;
  }

  async follow(task) {
    this.stop();
    this.taskId = task.id;
    this.since = task.updatedAt;
    if (await hasEventStreams()) this.listen();
    else this.poll();
  }

  listen() {
    this.onChannel("SSE");
    const source = new EventSource(`/api/v1/tasks/${this.taskId}/events`, { withCredentials: true });
    this.source = source;
    source.onmessage = (event) => {
      const task = JSON.parse(event.data);
      if (saysSomething(task)) this.reread(task);
      else this.seen(task);
    };
    for (const last of ["end", "deleted"]) source.addEventListener(last, () => this.stop());
    source.onerror = () => {
      // a closed stream (not a reconnect in progress) falls back to polling
      if (source.readyState === EventSource.CLOSED && this.source === source) this.poll();
    };
  }

  poll() {
    this.stopStream();
    this.onChannel("polling");
    const tick = async () => {
      try {
        const response = await fetch(`/api/v1/tasks/${this.taskId}/status?since=${encodeURIComponent(this.since)}`, {
          credentials: "same-origin",
          headers: callerHeaders(),
        });
        if (response.status === 200) this.seen((await response.json()).data);
      } catch {
        // a failed poll is retried at the next tick
      }
      if (this.timer !== null && !DONE.has(this.status) && !WAITING.has(this.status)) {
        this.timer = window.setTimeout(tick, POLL_MS);
      } else {
        this.timer = null;
      }
    };
    this.timer = window.setTimeout(tick, 0);
  }

  // the task as the status route gives it, in the page's language (the event's when that fails)
  async reread(task) {
    try {
      const response = await fetch(`/api/v1/tasks/${task.id}/status`, {
        credentials: "same-origin",
        headers: callerHeaders(),
      });
      if (response.status === 200) return this.seen((await response.json()).data);
    } catch {
      // the event's own words, then
    }
    this.seen(task);
  }

  // after the user picked an image: the task moves again
  resume() {
    if (this.source === null && this.timer === null) this.poll();
  }

  seen(task) {
    if (task.id !== this.taskId) return;
    // a task read again (reread) may come back after a newer event: the newer one stays
    if (this.since && Date.parse(task.updatedAt) < Date.parse(this.since)) return;
    this.since = task.updatedAt;
    this.status = task.status;
    this.onTask(task);
  }

  stopStream() {
    if (this.source !== null) this.source.close();
    this.source = null;
  }

  stop() {
    this.stopStream();
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.timer = null;
  }
}

// whether a task holds a sentence for its reader (rather than only codes and numbers)
function saysSomething(task) {
  return Boolean(
    task.errorMessage || task.model?.errorMessage || (task.images ?? []).some((image) => image.errorMessage),
  );
}
