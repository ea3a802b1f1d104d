// The signed-in visitor's notifications: the unread badge on their tab, and the view that lists and marks them.
//
// The API has no subscription for a viewer's notifications, so the badge is read again whenever it may have
// changed: with every board query (the list asks for the count), on board events that notify followers (status
// changes, merges), when the page becomes visible again, and once a minute while it is.
import { friendly } from "./api.js";
import { $, announce, formatDate, h, replace } from "./dom.js";
import { MARK_READ, NOTIFICATIONS, UNREAD } from "./queries.js";

const PAGE = 20;
const POLL_MS = 60_000;
const NOTIFYING = new Set(["IdeaStatusChangedEvent", "IdeasMergedEvent"]);

/** The unread count on the Notifications tab, shown to signed-in visitors only. */
export function unreadBadge(app) {
  const tab = $('[data-view="notifications"]');
  const badge = $("#ie-unread");
  let asked = 0;

  function set(count, signedIn = Boolean(app.api.token)) {
    tab.hidden = !signedIn;
    badge.hidden = !signedIn || !count;
    replace(badge, String(count), h("span", { class: "ie-sr" }, " unread"));
  }

  /** Read the count again; a failure keeps the one shown (the next refresh tries again). */
  async function refresh() {
    const mine = ++asked;
    if (!app.api.token) return set(0, false);
    const data = await app.api.request(UNREAD).catch(() => null);
    if (mine === asked && data) set(data.viewer.unreadNotificationCount, data.viewer.role !== "ANONYMOUS");
  }

  document.addEventListener("visibilitychange", () => document.hidden || refresh());
  setInterval(() => document.hidden || !app.signedIn() || refresh(), POLL_MS);
  return {
    /** The count a query that already asked for it answered (`viewer.unreadNotificationCount`). */
    set: (count) => {
      asked += 1; // an older refresh still on its way must not overwrite it
      set(count);
    },
    refresh,
    event: (event) => NOTIFYING.has(event.__typename) && refresh(),
  };
}

export function notificationsView(app, root) {
  let items = [];
  let cursor = null;
  const list = h("ol", { class: "ie-notifications", "aria-busy": "true" });
  const more = h("button", { type: "button", class: "ie-more", hidden: true, onclick: () => load(true) },
    "More notifications");
  const error = h("p", { class: "ie-error", role: "alert", hidden: true });
  const content = h("div", {}, h("div", { class: "ie-actions" },
    h("button", { type: "button", "data-action": "mark-all", onclick: () => markRead(null) }, "Mark all as read")),
  error, list, more);
  const guest = h("p", { class: "ie-note" }, "Sign in to the site to hear about the ideas you follow.");

  async function load(append = false) {
    const signedIn = Boolean(app.api.token); // the board signs in with the host's token only
    content.hidden = !signedIn;
    guest.hidden = signedIn;
    if (!signedIn) return;
    const variables = { first: PAGE, after: append ? cursor : null };
    const data = await app.run(() => app.api.request(NOTIFICATIONS, variables), "Loading notifications",
      () => load(append));
    list.setAttribute("aria-busy", "false");
    if (!data) return;
    const page = data.viewer.notifications;
    const fresh = page.edges.map((e) => e.node);
    items = append ? [...items, ...fresh] : fresh;
    cursor = page.pageInfo.endCursor;
    more.hidden = !page.pageInfo.hasNextPage;
    app.unread.set(data.viewer.unreadNotificationCount);
    render(append ? items.length - fresh.length : -1);
  }

  function render(focusFrom) {
    const focused = list.contains(document.activeElement) ? document.activeElement.closest("[data-id]") : null;
    replace(list, items.length ? items.map(item) : h("li", { class: "ie-empty" },
      "Nothing yet. Follow an idea to hear when its status changes or the team answers."));
    const again = focused && list.querySelector(`[data-id="${CSS.escape(focused.dataset.id)}"]`);
    if (focusFrom >= 0) list.children[focusFrom]?.querySelector(".ie-title")?.focus();
    else again?.querySelector(".ie-title")?.focus({ preventScroll: true });
  }

  function item(n) {
    const elsewhere = n.idea.board.id !== app.board?.id;
    return h("li", { class: n.read ? "ie-notification" : "ie-notification ie-unread-item", "data-id": n.id },
      h("p", { class: "ie-meta" },
        !n.read && h("span", { class: "ie-badge ie-new" }, "Unread"),
        h("time", { datetime: n.createdAt }, formatDate(n.createdAt)),
        elsewhere && h("span", {}, `on ${n.idea.board.name}`)),
      h("h3", {}, h("button", { type: "button", class: "ie-title", onclick: () => openIdea(n) }, n.idea.title)),
      h("p", {}, n.message));
  }

  /** Open the idea the notification is about; it counts as read from then on. */
  async function openIdea(n) {
    if (!n.read) await markRead([n.id], false);
    app.open("idea", n.idea.id);
  }

  async function markRead(ids, redraw = true) {
    error.hidden = true;
    const data = await app.run(() => app.api.request(MARK_READ, { input: { ids } }), "Marking as read",
      () => markRead(ids, redraw));
    if (!data) return;
    const { unreadCount, userErrors } = data.markNotificationsRead;
    if (userErrors.length) {
      replace(error, friendly(userErrors[0]));
      error.hidden = false;
      return;
    }
    app.unread.set(unreadCount);
    const marked = ids === null ? null : new Set(ids);
    items = items.map((n) => (marked === null || marked.has(n.id) ? { ...n, read: true } : n));
    if (!redraw) return;
    render(-1);
    if (ids === null) announce("All notifications are marked as read.");
  }

  replace(root, h("section", { class: "ie-notifications-view", "aria-labelledby": "ie-notifications-heading" },
    h("h2", { id: "ie-notifications-heading" }, "Notifications"), guest, content));
  return {
    ready: load(),
    refresh: () => load(false),
    event: (event) => NOTIFYING.has(event.__typename) && load(false), // what may have notified the viewer
  };
}
