// The board's ideas under any sort, filtered by status, tag and search, paged with the keyset cursors.
import { debounce, focusHeading, h, replace } from "./dom.js";
import { intervalBar, intervalScale, statusBadge, voteGroup } from "./widgets.js";

const PAGE = 20;
const SHOWN = "ideaengine:ideas-shown"; // a performance mark: the first page of ideas is on screen
const SORTS = [
  ["TOP", "Top"], ["TRENDING", "Trending"], ["PAIRWISE", "Best in comparisons"], ["ELO", "Elo rating"],
  ["MOST_VOTES", "Most votes"], ["NEWEST", "Newest"],
];
const SCORED = new Set(["TOP", "TRENDING", "PAIRWISE", "ELO"]); // sorts a score refresh can change
const QUIET_MS = 1000; // score refreshes come about once a second on a busy board: refetch at most that often
const STATUSES = ["SUBMITTED", "UNDER_REVIEW", "PLANNED", "IN_PROGRESS", "LAUNCHED", "DECLINED"];

/** Filters survive switching views, so "back to ideas" returns to the same list. */
const filters = { sort: "TOP", status: "", tag: "", search: "" };

export function listView(app, root) {
  let ideas = [];
  let cursor = null;
  let total = 0;
  let loading = 0;
  let arrived = new Set(); // ideas others submitted since the list was loaded, not shown yet
  let justShown = new Set(); // the ones "n new ideas" just brought in, marked as new

  const select = (name, label, options, value) => h("div", { class: "ie-field" },
    h("label", { for: `ie-${name}` }, label),
    h("select", { id: `ie-${name}`, name, onchange: (e) => { filters[name] = e.target.value; reload(); } },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
  const search = h("input", {
    id: "ie-search", type: "search", name: "search", value: filters.search, autocomplete: "off",
    oninput: debounce((e) => { filters.search = e.target.value.trim(); reload(); }, 300),
  });
  const tags = h("div", { class: "ie-tag-slot" });
  const statusSlot = h("div", { class: "ie-status-slot" });
  const count = h("p", { class: "ie-count", "aria-live": "polite" });
  const list = h("ol", { class: "ie-ideas", "aria-busy": "true" });
  const more = h("button", { type: "button", class: "ie-more", hidden: true, onclick: () => load(true) }, "More ideas");
  const arrivals = h("button", { type: "button", class: "ie-arrivals", hidden: true, onclick: showArrivals });

  replace(root, h("section", { class: "ie-list", "aria-labelledby": "ie-list-heading" },
    h("h2", { id: "ie-list-heading", class: "ie-sr" }, "Ideas"),
    h("form", { class: "ie-filters", role: "search", onsubmit: (e) => e.preventDefault() },
      select("sort", "Sort by", SORTS, filters.sort),
      statusSlot,
      tags,
      h("div", { class: "ie-field" }, h("label", { for: "ie-search" }, "Search"), search)),
    count, arrivals, list, more));

  function filterSelects() {
    replace(statusSlot, select("status", "Status",
      [["", "Any status"], ...STATUSES.map((s) => [s, app.label(s)])], filters.status));
    const known = app.board.tags.includes(filters.tag) || !filters.tag ? app.board.tags : [filters.tag, ...app.board.tags];
    replace(tags, select("tag", "Tag", [["", "Any tag"], ...known.map((t) => [t, t])], filters.tag));
  }

  async function load(append = false) {
    const mine = ++loading;
    list.setAttribute("aria-busy", "true");
    const variables = {
      first: PAGE, after: append ? cursor : null, sort: filters.sort,
      statuses: filters.status ? [filters.status] : null, tag: filters.tag || null, search: filters.search || null,
    };
    const data = await app.run(() => app.loadBoard(variables), "Loading ideas", () => load(append));
    if (mine !== loading) return; // a newer load (another filter) answers instead
    list.setAttribute("aria-busy", "false");
    if (!data) {
      if (!ideas.length) replace(list, h("li", { class: "ie-empty" }, "The ideas could not be loaded."));
      return;
    }
    if (!data.board) {
      replace(root, h("section", {}, h("h2", {}, "This board is not available"),
        h("p", {}, "It may be private, or its address may have changed.")));
      return;
    }
    const page = data.board.ideas;
    if (!append) {
      justShown = arrived;
      arrived = new Set();
      arrivals.hidden = true;
    }
    ideas = append ? [...ideas, ...page.edges.map((e) => e.node)] : page.edges.map((e) => e.node);
    cursor = page.pageInfo.endCursor;
    total = page.totalCount;
    more.hidden = !page.pageInfo.hasNextPage;
    filterSelects();
    render(append ? ideas.length - page.edges.length : 0);
    if (!performance.getEntriesByName(SHOWN).length) performance.mark(SHOWN);
  }

  const reload = () => load(false);

  function render(focusFrom) {
    replace(count, total === 1 ? "1 idea" : `${total} ideas`);
    const scale = filters.sort === "PAIRWISE" ? intervalScale(ideas) : null;
    replace(list, ideas.length ? ideas.map((idea) => item(idea, scale)) : h("li", { class: "ie-empty" },
      filters.search || filters.tag || filters.status ? "No idea matches these filters." : "No ideas yet: be the first."));
    if (focusFrom > 0) list.children[focusFrom]?.querySelector(".ie-title")?.focus();
  }

  function item(idea, scale) {
    const comments = idea.commentCount.totalCount;
    const fresh = justShown.has(idea.id);
    return h("li", { class: fresh ? "ie-idea ie-fresh" : "ie-idea", "data-id": idea.id },
      voteGroup(app, idea, update),
      h("div", { class: "ie-idea-main" },
        h("h3", {}, h("button", { type: "button", class: "ie-title", onclick: () => app.open("idea", idea.id) },
          idea.title)),
        h("p", { class: "ie-meta" }, fresh && h("span", { class: "ie-badge ie-new" }, "New"),
          statusBadge(app, idea.status),
          h("span", {}, comments === 1 ? "1 comment" : `${comments} comments`),
          h("span", {}, `${idea.followerCount} following`),
          idea.tags.map((tag) => h("span", { class: "ie-tag" }, `#${tag}`))),
        filters.sort === "PAIRWISE" && intervalBar(idea, scale)));
  }

  /** "n new ideas": the list again, the new ones marked, the keyboard on the first of them. */
  async function showArrivals() {
    const first = [...arrived][0];
    await load(false);
    const row = list.querySelector(`[data-id="${CSS.escape(first)}"]`) ?? list.firstElementChild;
    const title = row?.querySelector(".ie-title");
    if (title) title.focus();
    else focusHeading(root);
  }

  /** Another visitor's idea came in: count it on the button instead of moving the list under the reader. */
  function arrive(idea) {
    if (idea.author?.id && idea.author.id === app.viewer.user?.id) return;
    if (ideas.some((shown) => shown.id === idea.id)) return;
    if ((filters.status && idea.status !== filters.status) || (filters.tag && !idea.tags.includes(filters.tag))) return;
    arrived.add(idea.id);
    replace(arrivals, arrived.size === 1 ? "1 new idea" : `${arrived.size} new ideas`);
    arrivals.hidden = false;
  }

  /**
   * Scores were refreshed: read the ideas shown again and redraw those that changed where they are, without
   * reordering (the new order shows at the next load) and without a banner if it fails (the next refresh may not).
   */
  const rescore = debounce(async () => {
    const asked = loading;
    const variables = {
      first: Math.min(100, Math.max(PAGE, ideas.length)), after: null, sort: filters.sort,
      statuses: filters.status ? [filters.status] : null, tag: filters.tag || null, search: filters.search || null,
    };
    const data = await app.loadBoard(variables).catch(() => null);
    if (asked !== loading || !data?.board) return; // the reader loaded the list meanwhile
    const changed = data.board.ideas.edges.map((e) => e.node).filter((node) => {
      const shown = ideas.find((idea) => idea.id === node.id);
      return shown && JSON.stringify(shown) !== JSON.stringify({ ...shown, ...node });
    });
    // PAIRWISE bars share one scale: when one interval moves, every bar is redrawn on the new scale.
    const redraw = changed.length && filters.sort === "PAIRWISE" ? [...ideas] : [];
    for (const node of changed) update(node);
    for (const idea of redraw) update({ id: idea.id });
  }, QUIET_MS);

  /** One idea changed (a vote, a live status change): redraw its row, keeping the keyboard where it was. */
  function update(changed) {
    const index = ideas.findIndex((idea) => idea.id === changed.id);
    if (index < 0) return;
    ideas[index] = { ...ideas[index], ...changed };
    const old = list.children[index];
    const focused = old.contains(document.activeElement) ? document.activeElement : null;
    const fresh = item(ideas[index], filters.sort === "PAIRWISE" ? intervalScale(ideas) : null);
    old.replaceWith(fresh);
    const again = focused?.dataset.action ? `[data-action="${focused.dataset.action}"]` : ".ie-title";
    if (focused) fresh.querySelector(again)?.focus({ preventScroll: true });
  }

  return {
    ready: load(),
    refresh: () => load(false),
    leave: () => rescore.cancel(),
    event(event) {
      if (event.__typename === "IdeaStatusChangedEvent") update({ id: event.change.idea.id, status: event.change.to });
      else if (event.__typename === "IdeaSubmittedEvent") arrive(event.idea);
      else if (event.__typename === "ScoresUpdatedEvent" && SCORED.has(filters.sort)) rescore();
    },
  };
}
