// The ibkey portal pages' script: the activation page's countdown and its status, updated
// from the server's events (GET /portal/activate/events, event "status"; the move ticket's
// page alike from GET /portal/move/events, "moved" where activation says "activated"); the login page's
// status, updated from GET /login/events, going on to /login/done on approval.
"use strict";

// Opens the server's events at `url` and hands each "status" update (parsed JSON) to
// `handle`; returns the EventSource.
function onStatus(url, handle) {
  const events = new EventSource(url);
  events.addEventListener("status", function (event) {
    let update;
    try {
      update = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    handle(update);
  });
  return events;
}

(function () {
  const status = document.getElementById("activation-status");
  const countdown = document.getElementById("countdown");
  if (!status || !countdown) {
    return;
  }
  const FINAL = ["activated", "moved", "used", "expired"];
  const secondsLeft = Number(countdown.dataset.secondsLeft) || 0;
  const loadedAt = Date.now();
  let events = null;
  let timer = null;

  function show(state, message) {
    status.dataset.state = state;
    status.textContent = message;
    if (state === "expired") {
      // The server may say so a moment before the countdown gets there.
      countdown.textContent = "0:00";
    }
  }

  function isFinal() {
    return FINAL.includes(status.dataset.state);
  }

  function stop() {
    if (events) {
      events.close();
    }
    if (timer !== null) {
      clearInterval(timer);
    }
  }

  function tick() {
    const left = Math.max(0, secondsLeft - Math.floor((Date.now() - loadedAt) / 1000));
    const seconds = String(left % 60).padStart(2, "0");
    countdown.textContent = Math.floor(left / 60) + ":" + seconds;
    if (left === 0 && !isFinal()) {
      show("expired", status.dataset.expiredText);
      stop();
    }
  }

  events = onStatus(status.dataset.events, function (update) {
    show(update.state, update.message);
    if (isFinal()) {
      stop();
    }
  });
  timer = setInterval(tick, 1000);
  tick();
})();

(function () {
  const status = document.getElementById("login-status");
  if (!status || status.dataset.state !== "waiting") {
    return;
  }
  const events = onStatus(status.dataset.events, function (update) {
    status.dataset.state = update.state;
    status.textContent = update.message;
    if (update.state === "approved") {
      events.close();
      window.location.assign(status.dataset.done);
    } else if (update.state !== "waiting") {
      events.close();
    }
  });
})();
