/* Stagent's own front-end glue: live-stream flag, error display, form resets, Board drag and drop.
 * No inline scripts and no eval: the pages run under a strict Content-Security-Policy. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function errorTarget(elt) {
    var holder = elt && elt.closest ? elt.closest("[data-errors]") : null;
    var target = holder ? document.querySelector(holder.dataset.errors) : null;
    return target || document.getElementById("flash");
  }

  function showError(message, hint) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    var box = document.createElement("article");
    box.className = "error-box";
    box.setAttribute("role", "alert");
    var strong = document.createElement("strong");
    strong.textContent = message || "the request failed";
    box.appendChild(strong);
    if (hint) {
      box.appendChild(document.createElement("br"));
      var small = document.createElement("small");
      small.textContent = hint;
      box.appendChild(small);
    }
    flash.replaceChildren(box);
  }

  /* The one live stream: tests and people can see when it is connected. When it reopens after
   * a drop, parts that must never miss an event (approval cards, the inbox badge) re-fetch. */
  var opened = false;
  document.addEventListener("htmx:sseOpen", function () {
    document.body.dataset.live = "1";
    if (opened) {
      document.querySelectorAll("[data-resync]").forEach(function (elt) {
        htmx.trigger(elt, "stagent:resync");
      });
    }
    opened = true;
  });
  document.addEventListener("htmx:sseError", function () {
    delete document.body.dataset.live;
  });

  /* Error responses carry an error fragment: show it next to the form (or in #flash). */
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    if (!xhr || xhr.status < 400) return;
    var elt = evt.detail.requestConfig ? evt.detail.requestConfig.elt : evt.detail.elt;
    evt.detail.shouldSwap = true;
    evt.detail.isError = false;
    evt.detail.target = errorTarget(elt);
    evt.detail.swapOverride = "innerHTML";
  });

  /* After a successful request: clear old errors, reset forms that ask for it. (Not
   * `detail.successful`: the handler above marks error responses as swappable, hence "successful".) */
  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail.elt;
    var xhr = evt.detail.xhr;
    if (!xhr || xhr.status >= 400 || !elt || !elt.closest) return;
    var target = errorTarget(elt);
    if (target) target.replaceChildren();
    if (elt.matches("form[data-reset-on-success]")) elt.reset();
    /* A form inside a panel that asks for it (the Board's "New task") closes it once done. */
    var panel = elt.closest("details[data-close-on-success]");
    if (panel && elt.matches("form")) panel.open = false;
  });

  /* "5 min ago" stays true while the page is open (the rules of web/ui/times.py); dates older
   * than a week are shown in the browser's own zone. */
  function agoText(then, now) {
    var seconds = (now - then) / 1000;
    if (seconds < 60) return "just now";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    var days = Math.floor(seconds / 86400);
    if (days === 1) return "yesterday";
    if (days < 7) return days + " days ago";
    var options = { month: "short", day: "numeric" };
    if (then.getFullYear() !== now.getFullYear()) options.year = "numeric";
    return then.toLocaleDateString(undefined, options);
  }

  function refreshTimes() {
    var now = new Date();
    document.querySelectorAll("time[data-ago]").forEach(function (elt) {
      var then = new Date(elt.getAttribute("datetime"));
      if (!isNaN(then.getTime())) elt.textContent = agoText(then, now);
    });
  }
  setInterval(refreshTimes, 30000);

    /* Phones: the sidebar folds into a Menu button. */
  document.addEventListener("click", function (evt) {
    var button = evt.target && evt.target.closest ? evt.target.closest(".menu-toggle") : null;
    if (!button) return;
    var sidebar = button.closest(".sidebar");
    var open = !sidebar.classList.contains("open");
    sidebar.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });

  /* Board drag and drop: SortableJS moves cards, the JSON API decides. */
  var dragging = false;

  function refreshBoard() {
    if (document.getElementById("board")) {
      htmx.ajax("GET", "/ui/board", { target: "#board", swap: "innerHTML" });
    }
  }

  function moveCard(taskId, status) {
    fetch("/api/v1/tasks/" + encodeURIComponent(taskId) + "/move", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ status: status })
    })
      .then(function (response) {
        if (response.ok) return null;
        return response.json().then(function (body) { showError(body.error, body.hint); });
      })
      .catch(function () { showError("the move could not be sent; is the server running?"); })
      .finally(refreshBoard);
  }

  function accepts(list, fromStatus) {
    return (list.dataset.accepts || "").split(" ").indexOf(fromStatus) >= 0;
  }

  function initBoard(root) {
    if (typeof Sortable === "undefined" || !root.querySelectorAll) return;
    var lists = Array.prototype.slice.call(root.querySelectorAll(".col-cards"));
    if (root.matches && root.matches(".col-cards")) lists.push(root);
    lists.forEach(function (list) {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "1";
      Sortable.create(list, {
        group: {
          name: "board",
          pull: list.dataset.pull === "1",
          put: function (to, from) { return accepts(to.el, from.el.dataset.status); }
        },
        sort: false,
        animation: 120,
        draggable: ".card",
        filter: "button, a",
        preventOnFilter: false,
        onStart: function () { dragging = true; },
        onEnd: function () {
          dragging = false;
          document.dispatchEvent(new CustomEvent("stagent:dragEnd"));
        },
        onAdd: function (evt) { moveCard(evt.item.dataset.id, evt.to.dataset.status); }
      });
    });
  }

  htmx.onLoad(initBoard);

  /* The live Board receives the changed cards only (board-cards): each card goes to its column
   * and each table row to the table, newest first as the page orders them; a gone task's card
   * leaves. Never under a card being dragged: those wait until the drag ends. */
  var pendingCards = [];

  function placeInOrder(container, elt) {
    var created = parseFloat(elt.dataset.created || "0");
    var id = elt.dataset.id || "";
    var children = container.querySelectorAll(":scope > [data-created]");
    for (var i = 0; i < children.length; i++) {
      var other = children[i];
      var otherCreated = parseFloat(other.dataset.created || "0");
      if (otherCreated < created || (otherCreated === created && (other.dataset.id || "") > id)) {
        container.insertBefore(elt, other);
        return;
      }
    }
    /* older than every card shown: it goes above the "Show more" button, if any */
    var more = container.querySelector(":scope > .more-cards, :scope > .more-row");
    if (more) container.insertBefore(elt, more);
    else container.appendChild(elt);
  }

  /* Phones show one column at a time: a tab chooses it (kept on #board, which live updates
   * and refreshes never replace). */
  document.addEventListener("click", function (evt) {
    var tab = evt.target && evt.target.closest ? evt.target.closest(".column-tab") : null;
    var board = document.getElementById("board");
    if (!tab || !board) return;
    board.dataset.show = tab.dataset.column;
    board.querySelectorAll(".column-tab").forEach(function (other) {
      other.setAttribute("aria-selected", other === tab ? "true" : "false");
    });
  });

  function markShownTab(board) {
    board.querySelectorAll(".column-tab").forEach(function (tab) {
      tab.setAttribute("aria-selected", tab.dataset.column === board.dataset.show ? "true" : "false");
    });
  }

  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail && evt.detail.target && evt.detail.target.id === "board") markShownTab(evt.detail.target);
  });

  /* "Show more" brought a column's next cards (and a button for the rest): count again */
  document.addEventListener("htmx:afterSettle", function (evt) {
    var board = document.getElementById("board");
    var elt = evt.detail && evt.detail.elt;
    if (board && elt && elt.classList && elt.classList.contains("more-cards")) recount(board);
  });

  function recount(board) {
    board.querySelectorAll(".column").forEach(function (column) {
      var list = column.querySelector(".col-cards");
      var cards = list.querySelectorAll(".card").length;
      var own = list.querySelectorAll(".card:not(.is-step)").length;
      /* a column shows its newest cards; its "Show more" button holds how many are not shown */
      var more = list.querySelector(".more-cards");
      var all = (cards + (more ? parseInt(more.dataset.more, 10) || 0 : 0)).toLocaleString("en-US");
      var allOwn = (own + (more ? parseInt(more.dataset.moreOwn, 10) || 0 : 0)).toLocaleString("en-US");
      var key = list.dataset.status;
      column.querySelector(".count").textContent = all;
      column.querySelector(".count-own").textContent = allOwn;
      var tab = board.querySelector('.column-tab[data-column="' + key + '"]');
      if (tab) {
        tab.querySelector(".count").textContent = all;
        tab.querySelector(".count-own").textContent = allOwn;
      }
      var empty = list.querySelector(".empty");
      if (cards && empty) empty.remove();
      if (!cards && !empty) {
        var p = document.createElement("p");
        p.className = "empty";
        p.textContent = "No tasks";
        list.appendChild(p);
      }
    });
  }

  function applyCards(html) {
    var board = document.getElementById("board");
    if (!board) return;
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var tbody = board.querySelector(".tasks-table tbody");
    var missing = false;
    holder.querySelectorAll("template[data-card-for]").forEach(function (tpl) {
      var id = tpl.dataset.cardFor;
      var old = document.getElementById("card-" + id);
      if (old) old.remove();
      var row = document.getElementById("row-" + id);
      if (row) row.remove();
      if (tpl.dataset.gone) return;
      var list = board.querySelector('.col-cards[data-status="' + tpl.dataset.column + '"]');
      var card = tpl.content.firstElementChild;
      if (!list || !card) { missing = true; return; }
      placeInOrder(list, card);
      htmx.process(card);
    });
    holder.querySelectorAll("template[data-row-for]").forEach(function (tpl) {
      var row = tpl.content.firstElementChild;
      if (!tbody || !row) { missing = true; return; }
      placeInOrder(tbody, row);
      htmx.process(row);
    });
    recount(board);
    if (missing) refreshBoard(); /* e.g. the first task: the table does not exist yet */
  }

  function applyOrHold(html) {
    if (dragging) pendingCards.push(html);
    else applyCards(html);
  }

  /* A whole-Board answer (Run, Cancel, a refresh ...) can be rendered before a live move and
   * reach the page after it. Each answer names the feed position it was read at
   * (.kanban[data-seq]); the live cards received past that position are put back on top of it.
   * The last RECENT_MAX messages are kept; an answer older than those is re-fetched instead. */
  var RECENT_MAX = 200;
  var recentCards = [];
  var forgottenSeq = 0;

  function remember(seq, html) {
    if (isNaN(seq)) return;
    recentCards.push({ seq: seq, html: html });
    if (recentCards.length > RECENT_MAX) forgottenSeq = recentCards.shift().seq;
  }

  function catchUp(board) {
    var kanban = board.querySelector(".kanban[data-seq]");
    if (!kanban) return;
    var seq = parseInt(kanban.dataset.seq, 10);
    if (isNaN(seq)) return;
    recentCards = recentCards.filter(function (message) { return message.seq > seq; });
    if (forgottenSeq > seq) {
      forgottenSeq = 0;
      refreshBoard();
      return;
    }
    recentCards.forEach(function (message) { applyOrHold(message.html); });
  }

  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail && evt.detail.target && evt.detail.target.id === "board") catchUp(evt.detail.target);
  });

  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    if (!evt.target || evt.target.id !== "board-live") return;
    evt.preventDefault();
    remember(parseInt(evt.detail.lastEventId, 10), evt.detail.data);
    applyOrHold(evt.detail.data);
  });

  document.addEventListener("stagent:dragEnd", function () {
    var queued = pendingCards;
    pendingCards = [];
    queued.forEach(applyCards);
  });
})();
