// The embeddable idea board: boots, holds what every view shares, and switches between the views.
import { Api, ApiError, Live } from "./api.js";
import { $, announce, focusHeading, h, replace } from "./dom.js";
import { Host } from "./host.js";
import { campaignView } from "./campaign.js";
import { compareView } from "./compare.js";
import { ideaView } from "./idea.js";
import { listView } from "./list.js";
import { canModerate, moderateView } from "./moderate.js";
import { notificationsView, unreadBadge } from "./notifications.js";
import { submitView } from "./submit.js";
import { BOARD, BOARD_ACTIVITY } from "./queries.js";

const DEFAULT_LABELS = {
  SUBMITTED: "Submitted", UNDER_REVIEW: "Under review", PLANNED: "Planned", IN_PROGRESS: "In progress",
  LAUNCHED: "Launched", DECLINED: "Declined", MERGED: "Merged",
};

const [, , workspace, slug] = location.pathname.split("/").map(decodeURIComponent);
const graphqlUrl = new URL("/graphql", location.href);
const socketUrl = new URL(graphqlUrl);
socketUrl.protocol = location.protocol === "https:" ? "wss:" : "ws:";

const allowedOrigins = JSON.parse(document.querySelector('meta[name="ideaengine-origins"]').content || "[]");

/** What the views share: the API, the board, the viewer, and ways to switch views, report and retry. */
const app = {
  workspace,
  slug,
  api: new Api(graphqlUrl.href),
  live: null,
  host: null,
  board: null,
  viewer: { role: "ANONYMOUS", user: null },
  labels: { ...DEFAULT_LABELS },
  view: null,
  label: (status) => app.labels[status] ?? status,
  signedIn: () => app.viewer.role !== "ANONYMOUS",
  open,
  problem,
  clearProblem,
  run,
  loadBoard,
};

app.live = new Live(socketUrl.href, app.api, liveState);
app.host = new Host(allowedOrigins, {
  onToken(token) {
    const first = app.api.token === null;
    app.api.token = token;
    app.live.restart();
    if (first) announce("You are signed in.");
    app.view?.refresh?.();
    app.unread.refresh();
  },
  onSignOut() {
    app.api.token = null;
    app.live.restart();
    app.view?.refresh?.();
    app.unread.refresh();
  },
});
app.unread = unreadBadge(app);
app.api.onAuthProblem = (reason, token) => {
  if (app.api.token !== token) return; // a fresh token came meanwhile
  app.api.token = null; // the server ignores it anyway; act as a guest until the host sends a fresh one
  app.host.needToken(reason);
};

let boardAsked = 0;

/**
 * Learn the board (and the viewer) from its first page; the list view keeps using the answer. Only the latest
 * call's answer says who the viewer is: answers can arrive out of order, and a guest's answer to a call made
 * before the host's token came must not undo the signed-in answer that overtook it.
 */
async function loadBoard(variables) {
  const mine = ++boardAsked;
  const data = await app.api.request(BOARD, { workspace, slug, ...variables });
  if (mine !== boardAsked) return data;
  app.viewer = data.viewer;
  $('[data-view="moderate"]').hidden = !canModerate(app);
  app.unread.set(data.viewer.unreadNotificationCount);
  if (!data.board) return data;
  const first = app.board === null;
  app.board = data.board;
  for (const { status, label } of data.board.statusLabels) app.labels[status] = label;
  $('[data-view="campaign"]').hidden = data.board.campaigns.totalCount === 0; // no campaign: no tab
  if (first) {
    replace($("#ie-title"), data.board.name);
    replace($("#ie-description"), data.board.description);
    document.title = data.board.name;
    watchBoard();
  }
  replace($("#ie-who"), app.viewer.user ? `Signed in as ${app.viewer.user.name ?? "you"}` : "Reading as a guest");
  return data;
}

/** Show one view: "list", "idea" (with an id), "submit" or "compare". */
function open(name, arg, focus = true) {
  app.view?.leave?.();
  const main = $("#ie-main");
  const views = {
    list: listView, idea: ideaView, submit: submitView, compare: compareView, campaign: campaignView,
    moderate: moderateView, notifications: notificationsView,
  };
  app.view = views[name](app, main, arg);
  for (const tab of document.querySelectorAll("[data-view]")) {
    tab.setAttribute("aria-current", tab.dataset.view === name ? "page" : "false");
  }
  if (focus) app.view.ready?.then(() => focusHeading(main));
}

/**
 * Run an API call; a failure that is not the caller's fault shows in the banner with a button that runs `retry`
 * (the caller's whole step again), and the view stays as it was. Returns the data, or undefined after a failure.
 */
async function run(action, what, retry) {
  try {
    const result = await action();
    clearProblem();
    return result;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    problem(`${what} failed: ${error.message}`, retry);
    return undefined;
  }
}

function problem(message, retry) {
  const banner = $("#ie-problem");
  replace(banner, h("p", {}, message), retry && h("button", { type: "button", onclick: () => {
    clearProblem();
    retry();
  } }, "Retry"));
  banner.hidden = false;
}

function clearProblem() {
  const banner = $("#ie-problem");
  banner.hidden = true;
  banner.replaceChildren();
}

function liveState(state, { recovered = false } = {}) {
  const badge = $("#ie-connection");
  if (state === "live") {
    badge.hidden = true;
    if (recovered) {
      announce("Live updates are back.");
      app.view?.refresh?.();
    }
  } else if (state === "reconnecting") {
    replace(badge, "Live updates paused: reconnecting…");
    badge.hidden = false;
  } else {
    replace(badge, "Live updates stopped. ", h("button", { type: "button", onclick: () => {
      badge.hidden = true;
      app.live.restart();
      app.view?.refresh?.();
    } }, "Retry"));
    badge.hidden = false;
  }
}

/** Board activity, as it happens: views update what they show; the live region says it. */
function watchBoard() {
  app.live.subscribe("board", BOARD_ACTIVITY, { boardId: app.board.id }, ({ boardActivity: event }) => {
    if (event.__typename === "IdeaStatusChangedEvent") {
      const { change } = event;
      announce(`“${change.idea.title}” is now ${app.label(change.to)}.`);
    } else if (event.__typename === "IdeaSubmittedEvent") {
      announce(`New idea: “${event.idea.title}”.`);
    } else if (event.__typename === "IdeasMergedEvent") {
      announce(`“${event.source.title}” was merged into “${event.target.title}”.`);
    }
    app.view?.event?.(event);
    app.unread.event(event);
  });
}

for (const tab of document.querySelectorAll("[data-view]")) {
  tab.addEventListener("click", () => open(tab.dataset.view));
}
app.host.watchHeight($("#ie-app"));
open("list", null, false); // never take the focus from the host page on load
app.host.ready();
