// The ibkey portal pages' script: the activation page's countdown and its status, updated
// from the server's events (GET /portal/activate/events, event "status").
"use strict";

(function () {
  const status = document.getElementById("activation-status");
  const countdown = document.getElementById("countdown");
  if (!status || !countdown) {
    return;
  }
  const FINAL = ["activated", "used", "expired"];
  const secondsLeft = Number(countdown.dataset.secondsLeft) || 0;
  const loadedAt = Date.now();
  let events = null;
  let timer = null;

  function show(state, message) {
    status.dataset.state = state;
    status.textContent = message;
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

  events = new EventSource(status.dataset.events);
  events.addEventListener("status", function (event) {
    let update;
    try {
      update = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    show(update.state, update.message);
    if (isFinal()) {
      stop();
    }
  });
  timer = setInterval(tick, 1000);
  tick();
})();
