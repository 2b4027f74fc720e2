/* The board: drag a card to another column (SortableJS), or pick a stage in its "Move to…"
   menu. The server validates the move (plugins/sales/board_views.py, `move`): on success it
   answers with the two columns re-drawn (out-of-band swaps) and a toast with Undo; on a
   refusal (422) the card goes back where it was and the reason is shown; when a lost reason
   is what is missing, a dialog asks for it and the move is sent again. */
(function () {
  "use strict";

  function board() { return document.getElementById("board"); }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function toast(element) {
    if (window.bootstrap && element && element.classList.contains("board-toast")) {
      element.classList.remove("show");
      window.bootstrap.Toast.getOrCreateInstance(element, { delay: 10000 }).show();
    }
  }

  function showHtml(html) {
    var toasts = document.getElementById("board-toasts");
    var before = toasts.children.length;
    window.htmx.swap(toasts, html, { swapStyle: "beforeend" });
    Array.prototype.slice.call(toasts.children, before).forEach(toast);
    setUp(document);
  }

  function putBack(card, origin) {
    if (!origin) { card.classList.remove("board-pending"); return; }
    var siblings = Array.prototype.filter.call(origin.list.children, function (child) {
      return child !== card && child.classList.contains("board-card");
    });
    var next = siblings[origin.index] || origin.list.querySelector(".board-more") || null;
    origin.list.insertBefore(card, next);
    card.classList.remove("board-pending");
  }

  function askLostReason(card, stageId, origin) {
    var dialog = document.getElementById("board-lost-dialog");
    var form = document.getElementById("board-lost-form");
    if (!dialog || !form || !window.bootstrap) { putBack(card, origin); return; }
    var modal = window.bootstrap.Modal.getOrCreateInstance(dialog);
    var sent = false;
    form.reset();
    form.onsubmit = function (event) {
      event.preventDefault();
      var reason = form.elements.lost_reason_id.value;
      if (!reason) { form.elements.lost_reason_id.focus(); return; }
      sent = true;
      modal.hide();
      move(card, stageId, origin, reason);
    };
    dialog.addEventListener("hidden.bs.modal", function cancelled() {
      dialog.removeEventListener("hidden.bs.modal", cancelled);
      if (!sent) putBack(card, origin);
    });
    modal.show();
  }

  function move(card, stageId, origin, lostReason) {
    var root = board();
    var body = new URLSearchParams(root.dataset.filters || "");
    body.set("stage_id", stageId);
    if (lostReason) body.set("lost_reason_id", lostReason);
    var url = root.dataset.moveUrl.replace("/0/move", "/" + card.dataset.id + "/move");
    card.classList.add("board-pending");
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true",
                 "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (response) {
      return response.text().then(function (html) {
        if (response.ok) { showHtml(html); return; }
        if (response.status === 422 && response.headers.get("X-Board-Needs-Lost-Reason")) {
          askLostReason(card, stageId, origin);
          return;
        }
        putBack(card, origin);
        showHtml(response.status === 422 ? html : errorToast(root.dataset.errorText));
      });
    }).catch(function () {
      putBack(card, origin);
      showHtml(errorToast(root.dataset.errorText));
    });
  }

  function errorToast(text) {
    var div = document.createElement("div");
    div.className = "toast show board-toast text-bg-danger";
    div.setAttribute("role", "alert");
    var inner = document.createElement("div");
    inner.className = "toast-body";
    inner.textContent = text;
    div.appendChild(inner);
    return div.outerHTML;
  }

  function setUp(scope) {
    if (!window.Sortable || !board()) return;
    var lists = scope.querySelectorAll ? scope.querySelectorAll(".board-cards") : [];
    Array.prototype.forEach.call(lists, function (list) {
      if (list.dataset.sortable || !board().contains(list)) return;
      list.dataset.sortable = "1";
      window.Sortable.create(list, {
        group: "board",
        draggable: ".board-card",
        filter: ".board-more, .board-empty, .dropdown-menu",
        preventOnFilter: false,
        animation: 150,
        delay: 200,
        delayOnTouchOnly: true,
        onEnd: function (event) {
          if (event.from === event.to) return;
          var empty = event.to.querySelector(".board-empty");
          if (empty) empty.remove();
          move(event.item, event.to.dataset.stageId, { list: event.from, index: event.oldDraggableIndex });
        }
      });
    });
  }

  /* "Move to…": the plain form still works without JavaScript; with it, the move goes the
     same way as a drag (lost reason dialog, Undo, columns re-drawn). */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("board-move-form") || !board()) return;
    var button = event.submitter;
    if (!button || !button.value) return;
    event.preventDefault();
    var card = form.closest(".board-card");
    var list = card.parentElement;
    var index = Array.prototype.filter.call(list.children, function (child) {
      return child.classList.contains("board-card");
    }).indexOf(card);
    move(card, button.value, { list: list, index: index });
  });

  document.addEventListener("DOMContentLoaded", function () {
    setUp(document);
    if (window.htmx) window.htmx.onLoad(function (element) { setUp(element.parentElement || document); });
  });
})();
