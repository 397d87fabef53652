// Live pieces shared by every page: the user's notification socket, with reconnect and
// a visible notice when live updates are unavailable. Pages can subscribe with
// window.SkinLive.on(eventName, handler).
(function () {
  "use strict";
  const handlers = {};
  const SkinLive = {
    on(event, fn) { (handlers[event] = handlers[event] || []).push(fn); },
    emit(event, data) { (handlers[event] || []).forEach((fn) => fn(data)); },
    socketUrl(path) {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      return proto + "//" + location.host + path;
    },
    // A socket that reconnects with back-off; onMessage gets parsed JSON objects.
    connect(path, { onMessage, onOpen, onClose } = {}) {
      let delay = 500, ws = null, stopped = false;
      const open = () => {
        ws = new WebSocket(SkinLive.socketUrl(path));
        ws.onopen = () => { delay = 500; onOpen && onOpen(ws); };
        ws.onmessage = (e) => { try { onMessage && onMessage(JSON.parse(e.data)); } catch (err) { console.error(err); } };
        ws.onclose = (e) => {
          onClose && onClose(e);
          // 4401/4403: not allowed, never retried; anything else (4503: live updates down) is.
          if (!stopped && e.code !== 4401 && e.code !== 4403) { setTimeout(open, delay); delay = Math.min(delay * 2, 10000); }
        };
      };
      open();
      return { close() { stopped = true; ws && ws.close(); }, get socket() { return ws; } };
    },
    toast(title, body, url) {
      const box = document.getElementById("toasts");
      if (!box || !window.bootstrap) return;
      const el = document.createElement("div");
      el.className = "toast"; el.role = "status";
      el.innerHTML = '<div class="toast-header"><strong class="me-auto"></strong>' +
        '<button type="button" class="btn-close" data-bs-dismiss="toast"></button></div><div class="toast-body"></div>';
      el.querySelector("strong").textContent = title;
      el.querySelector(".toast-body").textContent = body || "";
      if (url) { const a = document.createElement("a"); a.href = url; a.textContent = " Open"; el.querySelector(".toast-body").appendChild(a); }
      box.appendChild(el); new bootstrap.Toast(el, { delay: 8000 }).show();
    },
    notice(text) {
      const el = document.getElementById("live-notice");
      if (!el) return;
      el.textContent = text || ""; el.classList.toggle("d-none", !text);
    },
  };
  window.SkinLive = SkinLive;
  const path = document.body.dataset.notificationsWs;
  if (path) {
    SkinLive.connect(path, {
      onMessage(msg) {
        if (msg.type !== "event") return;
        if (msg.event === "notification") {
          const badge = document.getElementById("notif-count");
          if (badge) { badge.textContent = (parseInt(badge.textContent || "0", 10) + 1); badge.classList.remove("d-none"); }
          SkinLive.toast(msg.title, msg.body, msg.url);
        }
        SkinLive.emit(msg.event, msg);
      },
    });
  }
})();
