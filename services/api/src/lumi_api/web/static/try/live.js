// A task's progress as it happens: the task event stream (SSE) when this API has it, else
// polling the status route with ?since= (a 304 while nothing changed), as the apps do.
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
    source.onmessage = (event) => this.seen(JSON.parse(event.data));
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
          headers: authorization(),
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

  // after the user picked an image: the task moves again
  resume() {
    if (this.source === null && this.timer === null) this.poll();
  }

  seen(task) {
    if (task.id !== this.taskId) return;
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

function authorization() {
  const token = sessionStorage.getItem("lumi.token");
  return token ? { Authorization: token } : {};
}
