// The chat follows the person: a static file (never built from input), loaded on every page and
// active where a chat thread (#thread) is shown.
//
// - The thread sticks to its newest message when a conversation opens, when a message is sent
//   and while an answer streams, unless the person scrolled up to read; then "Jump to latest"
//   shows until they are back at the bottom.
// - The composer gets focus when a conversation opens (or a new chat starts) and after an
//   answer, unless the person is busy elsewhere (another field, a text selection).
// - The composer counts characters near its limit and says when a paste was cut to fit.
(() => {
  "use strict";
  if (window.__youworkerChat) return;
  window.__youworkerChat = true;

  const NEAR_BOTTOM_PX = 48;
  const COUNT_FROM = 0.8; // share of the limit from which the counter shows
  const UP_KEYS = new Set(["ArrowUp", "PageUp", "Home"]);
  const threads = new WeakMap();
  let current = null; // the thread element being followed

  const composer = () => document.getElementById("composer");
  const jumpButton = () => document.getElementById("jump-to-latest");
  const distance = (el) => el.scrollHeight - el.scrollTop - el.clientHeight;

  function toBottom(el, st) {
    st.stick = true;
    el.scrollTop = el.scrollHeight;
    st.lastTop = el.scrollTop;
    showJump(el, st);
  }

  function showJump(el, st) {
    const wrap = jumpButton();
    if (!wrap) return;
    const away = !st.stick && distance(el) > NEAR_BOTTOM_PX;
    if (wrap.hidden === away) wrap.hidden = !away;
  }

  function busyElsewhere() {
    const active = document.activeElement;
    const field = composer();
    if (active && active !== document.body && active !== field) return true;
    const selection = window.getSelection();
    return Boolean(selection && !selection.isCollapsed && String(selection).trim());
  }

  function focusComposer(force) {
    const field = composer();
    if (!field || field.disabled) return;
    if (!force && busyElsewhere()) return;
    field.focus({ preventScroll: true });
  }

  function opened(el, st) {
    st.conversation = el.dataset.conversation || "";
    toBottom(el, st);
    focusComposer(false);
  }

  function changed(el, st) {
    const conversation = el.dataset.conversation || "";
    if (conversation !== st.conversation) {
      opened(el, st);
    }
    const streaming = el.dataset.streaming === "true";
    if (st.streaming && !streaming) {
      window.requestAnimationFrame(() => focusComposer(false));
    }
    st.streaming = streaming;
    recount();
    if (st.stick) {
      el.scrollTop = el.scrollHeight;
      st.lastTop = el.scrollTop;
    }
    showJump(el, st);
  }

  function attach(el) {
    const st = { stick: true, lastTop: 0, conversation: null, streaming: false };
    threads.set(el, st);
    current = el;
    const unstick = () => {
      st.stick = false;
    };
    el.addEventListener("wheel", (e) => e.deltaY < 0 && unstick(), { passive: true });
    el.addEventListener("keydown", (e) => UP_KEYS.has(e.key) && unstick());
    el.addEventListener("touchmove", unstick, { passive: true });
    el.addEventListener(
      "scroll",
      () => {
        const top = el.scrollTop;
        const near = distance(el) <= NEAR_BOTTOM_PX;
        if (top < st.lastTop - 1 && !near) st.stick = false;
        else if (near && top >= st.lastTop - 1) st.stick = true;
        st.lastTop = top;
        showJump(el, st);
      },
      { passive: true },
    );
    const follow = () => changed(el, st);
    new MutationObserver(follow).observe(el, {
      childList: true,
      subtree: true,
      characterData: true,
      attributes: true,
      attributeFilter: ["data-conversation", "data-streaming"],
    });
    if (window.ResizeObserver) {
      const resize = new ResizeObserver(follow);
      resize.observe(el);
      if (el.firstElementChild) resize.observe(el.firstElementChild);
    }
    st.streaming = el.dataset.streaming === "true";
    opened(el, st);
  }

  function scan() {
    const el = document.getElementById("thread");
    if (el && !threads.has(el)) attach(el);
  }

  function sent() {
    const el = current;
    const st = el && threads.get(el);
    if (st && el.isConnected) toBottom(el, st);
  }

  // ---- the composer's limit ----------------------------------------------------------------

  let trimmedBy = 0;

  function showCount(field) {
    const limit = field.maxLength > 0 ? field.maxLength : 0;
    const count = document.getElementById("composer-count");
    const note = document.getElementById("composer-limit-note");
    const length = field.value.length;
    if (length < limit) trimmedBy = 0;
    setText(
      count,
      limit && length >= limit * COUNT_FROM
        ? `${length.toLocaleString()} / ${limit.toLocaleString()} characters`
        : "",
    );
    setText(
      note,
      trimmedBy
        ? `Your paste was longer than the ${limit.toLocaleString()}-character limit: ` +
            `it was cut to fit (${trimmedBy.toLocaleString()} characters left out).`
        : "",
    );
  }

  // Only a real change is written: every write is a mutation the observers below see.
  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }

  // The server empties the composer once it accepts a message (no input event): recount.
  function recount() {
    const field = composer();
    if (!field) return;
    showCount(field);
    // Emptied without an input event, it keeps the height of its last text otherwise.
    if (!field.value && field.style.height) field.style.height = "";
  }

  document.addEventListener(
    "paste",
    (e) => {
      const field = e.target;
      if (!(field instanceof HTMLTextAreaElement) || field.id !== "composer") return;
      const limit = field.maxLength;
      const pasted = e.clipboardData ? e.clipboardData.getData("text").length : 0;
      if (limit <= 0 || !pasted) return;
      const selected = (field.selectionEnd || 0) - (field.selectionStart || 0);
      const room = limit - (field.value.length - selected);
      trimmedBy = pasted > room ? pasted - Math.max(room, 0) : 0;
      window.setTimeout(() => showCount(field), 0);
    },
    true,
  );

  document.addEventListener(
    "input",
    (e) => {
      if (e.target instanceof HTMLTextAreaElement && e.target.id === "composer") {
        showCount(e.target);
      }
    },
    true,
  );

  // ---- sending, new chat -------------------------------------------------------------------

  document.addEventListener(
    "submit",
    (e) => {
      if (e.target instanceof HTMLFormElement && e.target.contains(composer())) sent();
    },
    true,
  );

  document.addEventListener(
    "keydown",
    (e) => {
      const field = composer();
      if (e.target === field && e.key === "Enter" && !e.shiftKey && !e.isComposing) sent();
    },
    true,
  );

  document.addEventListener(
    "click",
    (e) => {
      const target = e.target instanceof Element ? e.target : null;
      if (!target) return;
      if (target.closest("#jump-to-latest")) {
        sent();
        focusComposer(true);
      } else if (target.closest("[data-testid=new-chat]")) {
        window.setTimeout(() => focusComposer(true), 0);
      }
    },
    true,
  );

  new MutationObserver(() => {
    scan();
    recount();
  }).observe(document.documentElement, { childList: true, subtree: true });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", scan);
  } else {
    scan();
  }
})();
