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

  /* Pickers (templates/macros/picker.html): an ARIA combobox whose options htmx loads while
     typing. Up/Down move through them, Enter or a click chooses one (the hidden input gets its
     value and a "change" event), Escape or leaving the picker closes the list. */
  function pickerParts(element) {
    var root = element.closest("[data-picker]");
    if (!root) return null;
    return { root: root, text: root.querySelector("[data-picker-text]"),
             value: root.querySelector("[data-picker-value]"), list: root.querySelector("[data-picker-listbox]") };
  }

  function pickerOptions(parts) {
    return Array.prototype.slice.call(parts.list.querySelectorAll('[role="option"]:not([aria-disabled="true"])'));
  }

  function pickerOpen(parts, open) {
    parts.list.hidden = !open;
    parts.text.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) parts.text.removeAttribute("aria-activedescendant");
  }

  function pickerMark(parts, option) {
    pickerOptions(parts).forEach(function (each) {
      var on = each === option;
      each.classList.toggle("active", on);
      each.setAttribute("aria-selected", on ? "true" : "false");
    });
    if (option) {
      parts.text.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    }
  }

  function pickerChoose(parts, option) {
    parts.value.value = option.getAttribute("data-value");
    parts.text.value = option.textContent.trim();
    pickerOpen(parts, false);
    parts.value.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement) || !target.matches("[data-picker-text]")) return;
    var parts = pickerParts(target);
    var options = pickerOptions(parts);
    var active = parts.list.querySelector('[role="option"].active');
    var index = options.indexOf(active);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options.length) return;
      pickerOpen(parts, true);
      var next = event.key === "ArrowDown" ? Math.min(index + 1, options.length - 1) : Math.max(index - 1, 0);
      pickerMark(parts, options[next]);
      event.preventDefault();
    } else if (event.key === "Enter" && !parts.list.hidden && active) {
      pickerChoose(parts, active);
      event.preventDefault();  /* choosing, not submitting the form */
    } else if (event.key === "Escape" && !parts.list.hidden) {
      pickerOpen(parts, false);
      event.preventDefault();
    }
  });

  document.addEventListener("mousedown", function (event) {
    var option = event.target instanceof Element ? event.target.closest("[data-picker-listbox] [role=option]") : null;
    if (option && option.getAttribute("aria-disabled") !== "true") {
      event.preventDefault();  /* keep the focus in the text box */
      pickerChoose(pickerParts(option), option);
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var list = event.detail && event.detail.target;
    if (!list || !list.hasAttribute || !list.hasAttribute("data-picker-listbox")) return;
    var parts = pickerParts(list);
    pickerOpen(parts, list.children.length > 0 && parts.text.value.trim() !== "");
  });

  document.addEventListener("focusout", function (event) {
    var parts = event.target instanceof Element ? pickerParts(event.target) : null;
    if (!parts) return;
    setTimeout(function () {
      if (!parts.root.contains(document.activeElement)) pickerOpen(parts, false);
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
