/* Atrium CRM shell behaviour: the little JavaScript the server-rendered pages need.
   No build step; loaded with `defer` by templates/base.html. */
(function () {
  "use strict";

  /* Search results move with the arrow keys: Down from a search box enters its results,
     Up/Down walk them, Home/End jump, Escape returns to the box (and closes a pop-up panel). */
  function resultsFor(box) {
    var id = box.getAttribute("aria-controls");
    return id ? document.getElementById(id) : null;
  }

  function links(region) {
    return region ? Array.prototype.slice.call(region.querySelectorAll("a[href]")) : [];
  }

  function setOpen(box, region, open) {
    if (!region || !region.hasAttribute("data-search-results")) return;
    region.hidden = !open;
    box.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement)) return;
    if (target.matches("[data-search-box]")) {
      var region = resultsFor(target);
      if (event.key === "ArrowDown" && links(region).length) {
        setOpen(target, region, true);
        links(region)[0].focus();
        event.preventDefault();
      } else if (event.key === "Escape") {
        setOpen(target, region, false);
      }
      return;
    }
    var region = target.closest("[data-search-results]");
    if (!region || target.tagName !== "A") return;
    var all = links(region);
    var index = all.indexOf(target);
    var box = document.querySelector('[aria-controls="' + region.id + '"]');
    var next = null;
    if (event.key === "ArrowDown") next = all[Math.min(index + 1, all.length - 1)];
    else if (event.key === "ArrowUp") next = index > 0 ? all[index - 1] : box;
    else if (event.key === "Home") next = all[0];
    else if (event.key === "End") next = all[all.length - 1];
    else if (event.key === "Escape" && box) {
      next = box;
      setOpen(box, resultsFor(box), false);
    }
    if (next) {
      next.focus();
      event.preventDefault();
    }
  });

  /* The top-bar panel opens when results arrive and closes when focus leaves the search form. */
  document.addEventListener("htmx:afterSwap", function (event) {
    var region = event.detail && event.detail.target;
    if (!region || !region.hasAttribute || !region.hasAttribute("data-search-results")) return;
    var box = document.querySelector('[aria-controls="' + region.id + '"]');
    if (box) setOpen(box, region, region.textContent.trim() !== "" && box.value.trim() !== "");
  });

  document.addEventListener("focusout", function (event) {
    var form = event.target instanceof HTMLElement ? event.target.closest(".topbar-search") : null;
    if (!form) return;
    setTimeout(function () {
      if (!form.contains(document.activeElement)) {
        var box = form.querySelector("[data-search-box]");
        if (box) setOpen(box, resultsFor(box), false);
      }
    }, 0);
  });

  /* Charts (core/widgets.py): draw each canvas[data-chart] once, from its JSON config, when
     Chart.js is on the page (the home page loads it). */
  function drawCharts(root) {
    if (typeof window.Chart === "undefined") return;
    var canvases = (root || document).querySelectorAll("canvas[data-chart]:not([data-drawn])");
    Array.prototype.forEach.call(canvases, function (canvas) {
      var source = document.querySelector('script[data-chart-config="' + canvas.id + '"]');
      if (!source) return;
      var config = JSON.parse(source.textContent);
      config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
      new window.Chart(canvas, config);
      canvas.setAttribute("data-drawn", "");
    });
  }
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
  window.addEventListener("load", function () { drawCharts(document); });

  /* The user menu (a <details>) closes on a click outside it and on Escape. */
  document.addEventListener("click", function (event) {
    Array.prototype.forEach.call(document.querySelectorAll("details.usermenu[open]"), function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = document.querySelector("details.usermenu[open]");
    if (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    }
  });
})();
