// The moderator view: duplicate clusters merged in one click (and unmerged), the moderation queue to approve or
// hide, status changes with a note, and each idea's pairwise interval. Its tab shows only to moderators and
// admins; the API is what guards it (FORBIDDEN for anyone else), and the view says so if it answers that.
import { ApiError, friendly } from "./api.js";
import { announce, h, replace, uid } from "./dom.js";
import { CHANGE_STATUS, MERGE, MODERATE, MODERATION, UNMERGE } from "./queries.js";
import { clearErrors, field, intervalBar, intervalScale, showErrors, statusBadge } from "./widgets.js";

const PAGE = 50;
const ROLES = new Set(["MODERATOR", "ADMIN"]);
const REFUSED = new Set(["FORBIDDEN", "UNAUTHENTICATED"]);
const REASONS = { SPAM: "Spam", ABUSE: "Abuse", OFF_TOPIC: "Off topic", PERSONAL_DATA: "Personal data", OTHER: "Other" };
const STATES = { PENDING: "Waiting for approval", VISIBLE: "Reported", HIDDEN: "Hidden" };
const DECISIONS = { APPROVE: "Approved", HIDE: "Hidden: its author is told", RESTORE: "Restored" };

/** Whether the viewer is a moderator or admin (of its own workspace: the view checks the board with the API). */
export const canModerate = (app) => ROLES.has(app.viewer.role);

/** A row the moderator is working in (focus, an open form, typed text): what a reload must not throw away. */
const busy = (row) => row.contains(document.activeElement) || row.querySelector('[aria-expanded="true"]')
  || [...row.querySelectorAll("input[type=text], textarea")].some((control) => control.value);

/** The fresh rows, but the old element (by data-id) of each row still being worked in. */
function keepBusy(old, fresh) {
  const working = new Map(old.filter(busy).map((row) => [row.dataset.id, row]));
  return fresh.map((row) => working.get(row.dataset.id) ?? row);
}

/** Re-render without losing the keyboard: the focused element gets the focus back if it is still on the page. */
function steady(render) {
  const active = document.activeElement;
  render();
  if (active?.isConnected && document.activeElement !== active) active.focus();
}

/**
 * Focus where a finished action leads, unless the moderator has moved on while it reloaded: the focus is lost only
 * when the button that started it was removed with the old rows (it fell back to the page's body).
 */
function focusIfLost(target) {
  const active = document.activeElement;
  if (!active || active === document.body) target?.focus();
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const tally = (idea) => `${plural(idea.votes.up, "vote")} for, ${idea.votes.down} against`;

export function moderateView(app, root) {
  let ideas = [];
  let cursor = null;
  let board = null; // the moderation query's answer: clusters, merged ideas, the queue
  let loading = 0; // the newest load or reload: the answer of one begun before it is dropped
  const keep = new Map(); // cluster (its first idea's id) -> the idea its duplicates are merged into

  const heading = (id, text) => h("h3", { id, tabindex: "-1" }, text);
  const part = (id, title, ...body) => h("section", { class: `ie-mod-part ie-mod-${id}`, "aria-labelledby": `ie-mod-${id}-h` },
    heading(`ie-mod-${id}-h`, title), ...body);
  const clusters = h("div", {});
  const merged = h("div", {});
  const queue = h("div", {});
  const list = h("ol", { class: "ie-mod-ideas", "aria-busy": "true" });
  const more = h("button", { type: "button", class: "ie-more", hidden: true, onclick: () => loadIdeas(true) },
    "More ideas");

  replace(root, h("section", { class: "ie-moderate", "aria-labelledby": "ie-moderate-heading" },
    h("h2", { id: "ie-moderate-heading" }, "Moderation"),
    h("p", { class: "ie-muted" }, "Only the board's moderators and admins see this."),
    h("div", { class: "ie-mod-grid" },
      h("div", {},
        part("duplicates", "Duplicates", clusters),
        part("merged", "Merged ideas", merged),
        part("queue", "Moderation queue", queue)),
      part("ideas", "Statuses and intervals",
        h("p", { class: "ie-muted" }, "Best in comparisons first; each bar is the 95% interval of the idea's strength."),
        list, more))));

  /** The moderation data, or null when the API refuses this viewer (not a moderator of this board's workspace). */
  async function moderation() {
    try {
      return (await app.api.request(MODERATION, { workspace: app.workspace, slug: app.slug })).board;
    } catch (error) {
      if (error instanceof ApiError && REFUSED.has(error.code)) return null;
      throw error;
    }
  }

  async function load() {
    const mine = ++loading;
    const [page, mod] = await Promise.all([
      app.run(() => app.loadBoard(ideaPage(null)), "Loading ideas", load),
      app.run(moderation, "Loading moderation", load),
    ]);
    if (mine !== loading || page === undefined || mod === undefined) return;
    if (!canModerate(app) || !mod || !page.board) {
      refused();
      return;
    }
    board = mod;
    takeIdeas(page, false);
    renderModeration();
  }

  function refused() {
    replace(root, h("section", { "aria-labelledby": "ie-moderate-heading" },
      h("h2", { id: "ie-moderate-heading" }, "Moderation"),
      h("p", {}, "Only the board's moderators and admins can moderate it. Sign in with a moderator's account."),
      h("button", { type: "button", onclick: () => app.open("list") }, "Back to the ideas")));
  }

  const ideaPage = (after) => ({ first: PAGE, after, sort: "PAIRWISE" });

  async function loadIdeas(append) {
    const page = await app.run(() => app.loadBoard(ideaPage(append ? cursor : null)), "Loading ideas",
      () => loadIdeas(append));
    if (page?.board) takeIdeas(page, append);
  }

  function takeIdeas(page, append) {
    const { edges, pageInfo } = page.board.ideas;
    const fresh = edges.map((edge) => edge.node);
    ideas = append ? [...ideas, ...fresh] : fresh;
    cursor = pageInfo.endCursor;
    more.hidden = !pageInfo.hasNextPage;
    list.setAttribute("aria-busy", "false");
    renderIdeas(append ? ideas.length - fresh.length : -1);
  }

  const focusHeading = (id) => root.querySelector(`#ie-mod-${id}-h`)?.focus();
  const count = (id, title, n) => replace(root.querySelector(`#ie-mod-${id}-h`), `${title} (${n})`);

  function renderModeration() {
    renderClusters();
    renderMerged();
    renderQueue();
  }

  // Duplicates: each cluster keeps one idea (the most central unless the moderator picks another); every other
  // open idea of it merges into that one with one click.
  function renderClusters() {
    const found = board.duplicateClusters.edges.map((edge) => edge.node);
    count("duplicates", "Duplicates", found.length);
    replace(clusters, found.length
      ? h("ol", { class: "ie-clusters" }, found.map(cluster))
      : h("p", { class: "ie-muted" }, "No duplicates found."));
  }

  function cluster(node) {
    const key = node.ideas[0].id;
    const kept = node.ideas.find((idea) => idea.id === keep.get(key)) ?? node.ideas[0];
    const group = uid("ie-keep");
    const legend = `${node.ideas.length} ideas, at least ${Math.round(node.cohesion * 100)}% alike`;
    return h("li", { class: "ie-cluster", "data-cluster": key },
      h("fieldset", {}, h("legend", {}, legend),
        h("ul", {}, node.ideas.map((idea) => h("li", { class: "ie-cluster-idea", "data-id": idea.id },
          h("label", { class: "ie-keep" },
            h("input", { type: "radio", name: group, value: idea.id, checked: idea === kept, onchange: () => {
              keep.set(key, idea.id);
              const fresh = cluster(node);
              root.querySelector(`[data-cluster="${CSS.escape(key)}"]`).replaceWith(fresh);
              fresh.querySelector(`input[value="${CSS.escape(idea.id)}"]`).focus();
            } }),
            "Keep", h("span", { class: "ie-sr" }, ` “${idea.title}”`)),
          h("div", { class: "ie-cluster-main" },
            h("button", { type: "button", class: "ie-link", onclick: () => app.open("idea", idea.id) }, idea.title),
            h("p", { class: "ie-meta" }, statusBadge(app, idea.status),
              h("span", {}, tally(idea)))),
          idea !== kept && idea.status !== "MERGED" && mergeButton(idea, kept))))));
  }

  function mergeButton(source, target) {
    const error = h("p", { class: "ie-error", role: "alert", hidden: true });
    const merge = async () => {
      const input = { sourceId: source.id, targetId: target.id };
      const data = await app.run(() => app.api.request(MERGE, { input }), "Merging", merge);
      if (!data) return;
      const { userErrors } = data.mergeIdeas;
      if (userErrors.length) {
        replace(error, userErrors.map(friendly).join(" "));
        error.hidden = false;
        return;
      }
      await reload();
      announce(`“${source.title}” was merged into “${target.title}”. Unmerge it below if that was a mistake.`);
      focusIfLost(root.querySelector(`.ie-mod-merged [data-id="${CSS.escape(source.id)}"] button`));
    };
    return h("div", { class: "ie-cluster-action" },
      h("button", { type: "button", "data-action": "merge", onclick: merge },
        "Merge ", h("span", { class: "ie-sr" }, `“${source.title}” `), `into “${target.title}”`), error);
  }

  function renderMerged() {
    const found = board.merged.edges.map((edge) => edge.node);
    count("merged", "Merged ideas", board.merged.totalCount);
    replace(merged, found.length
      ? h("ul", { class: "ie-merged" }, found.map((idea) => h("li", { "data-id": idea.id },
        h("p", {}, `“${idea.title}”`, idea.mergedInto && ` into “${idea.mergedInto.title}”`),
        unmergeButton(idea))))
      : h("p", { class: "ie-muted" }, "No merged ideas."));
  }

  function unmergeButton(idea) {
    const error = h("p", { class: "ie-error", role: "alert", hidden: true });
    const unmerge = async () => {
      const data = await app.run(() => app.api.request(UNMERGE, { input: { ideaId: idea.id } }), "Unmerging", unmerge);
      if (!data) return;
      const { source, userErrors } = data.unmergeIdea;
      if (userErrors.length) {
        replace(error, userErrors.map(friendly).join(" "));
        error.hidden = false;
        return;
      }
      await reload();
      announce(`“${source.title}” is back on the board as ${app.label(source.status)}.`);
      focusIfLost(root.querySelector("#ie-mod-duplicates-h"));
    };
    return h("div", { class: "ie-cluster-action" },
      h("button", { type: "button", "data-action": "unmerge", onclick: unmerge },
        "Unmerge", h("span", { class: "ie-sr" }, ` “${idea.title}”`)), error);
  }

  // The queue: pending and reported ideas and comments, most reported first, each approved, hidden or restored.
  function renderQueue() {
    const items = board.moderationQueue.edges.map((edge) => edge.node);
    count("queue", "Moderation queue", board.moderationQueue.totalCount);
    const rows = keepBusy([...queue.querySelectorAll(".ie-queue > li")], items.map(queueItem));
    steady(() => replace(queue, rows.length
      ? h("ol", { class: "ie-queue" }, rows)
      : h("p", { class: "ie-muted" }, "Nothing waits for a decision.")));
  }

  function queueItem(item) {
    const { subject } = item;
    const isIdea = subject.__typename === "Idea";
    const title = isIdea ? subject.title : `A comment on “${subject.idea.title}”`;
    const reasons = {};
    for (const report of item.reports) reasons[report.reason] = (reasons[report.reason] ?? 0) + 1;
    const notes = item.reports.filter((report) => report.note);
    const reason = h("input", { type: "text", maxlength: 5000, autocomplete: "off" });
    const form = h("form", { class: "ie-queue-item", novalidate: true, onsubmit: (e) => e.preventDefault() },
      h("p", { class: "ie-meta" }, h("span", { class: `ie-badge ie-mod-${item.state.toLowerCase()}` }, STATES[item.state]),
        h("span", {}, isIdea ? "Idea" : "Comment"),
        h("span", {}, `by ${subject.author?.name ?? "a deleted user"}`)),
      h("h4", {}, title),
      subject.body && h("p", { class: "ie-excerpt" }, excerpt(subject.body)),
      item.reportCount > 0 && h("p", { class: "ie-reports" }, h("strong", {}, plural(item.reportCount, "report")), ": ",
        Object.entries(reasons).map(([why, n]) => `${REASONS[why] ?? why} (${n})`).join(", ")),
      notes.length > 0 && h("ul", { class: "ie-report-notes", "aria-label": "What reporters said" },
        notes.map((report) => h("li", {}, `“${report.note}”`))),
      field("Reason (optional)", `reason-${subject.id}`, reason, "Kept in the audit trail; told to the author when hidden."),
      h("div", { class: "ie-queue-actions" },
        item.state === "HIDDEN"
          ? decide("RESTORE", "Restore")
          : [decide("APPROVE", "Approve"), decide("HIDE", "Hide")]),
      h("p", { class: "ie-error", role: "alert", "data-error-for": "_form", tabindex: "-1", hidden: true }));

    function decide(action, words) {
      return h("button", { type: "button", "data-action": action.toLowerCase(), onclick: async function act() {
        clearErrors(form);
        const input = { subjectId: subject.id, action, reason: reason.value.trim() || null };
        const data = await app.run(() => app.api.request(MODERATE, { input }), "Deciding", act);
        if (!data) return;
        const { userErrors } = data.moderateContent;
        if (userErrors.length) {
          showErrors(form, userErrors.map((err) => (err.field.at(-1) === "reason"
            ? { ...err, field: [`reason-${subject.id}`] } : { ...err, field: [] })));
          return;
        }
        announce(`${DECISIONS[action]}: ${title}.`);
        const next = form.closest("li").nextElementSibling ?? form.closest("li").previousElementSibling;
        board.moderationQueue.edges = board.moderationQueue.edges.filter((edge) => edge.node.subject.id !== subject.id);
        board.moderationQueue.totalCount -= 1;
        renderQueue();
        const index = next && board.moderationQueue.edges.findIndex((edge) => edge.node.subject.id === next.dataset.id);
        if (index >= 0) queue.querySelectorAll(".ie-queue > li")[index].querySelector("button")?.focus();
        else focusHeading("queue");
        if (isIdea) await loadIdeas(false); // an approved idea joins the board's ranking, a hidden one leaves it
      } }, words, h("span", { class: "ie-sr" }, ` “${isIdea ? subject.title : excerpt(subject.body, 40)}”`));
    }
    return h("li", { "data-id": subject.id }, form);
  }

  // Every idea, best in comparisons first, with its interval and a status change (with a note for followers).
  function renderIdeas(focusFrom) {
    const scale = intervalScale(ideas);
    const rows = keepBusy([...list.children], ideas.map((idea) => ideaRow(idea, scale)));
    steady(() => replace(list, rows.length ? rows : h("li", { class: "ie-empty" }, "No ideas yet.")));
    if (focusFrom >= 0) list.children[focusFrom]?.querySelector("button")?.focus();
  }

  function ideaRow(idea, scale) {
    const key = uid("ie-st");
    const status = h("select", {}, h("option", { value: "" }, "Choose a status"),
      app.board.statusLabels.filter((s) => s.status !== "MERGED" && s.status !== idea.status)
        .map((s) => h("option", { value: s.status }, s.label)));
    const note = h("textarea", { rows: 2, maxlength: 5000 });
    const names = { status: `status-${key}`, note: `note-${key}` };
    const form = h("form", { class: "ie-status-form", id: `${key}-form`, novalidate: true, hidden: true, onsubmit: save,
      onkeydown: (e) => e.key === "Escape" && toggle(false) },
      field("New status", names.status, status),
      field("Note for followers (optional)", names.note, note, "Shown with the change in the idea's timeline."),
      h("p", { class: "ie-error", "data-error-for": "_form", tabindex: "-1", hidden: true }),
      h("div", { class: "ie-queue-actions" },
        h("button", { type: "submit", class: "ie-primary" }, "Save status"),
        h("button", { type: "button", onclick: () => toggle(false) }, "Cancel")));
    const opener = h("button", { type: "button", "aria-expanded": "false", "aria-controls": form.id, "data-action": "status",
      onclick: () => toggle(opener.getAttribute("aria-expanded") === "false") },
    "Change status", h("span", { class: "ie-sr" }, ` of “${idea.title}”`));

    function toggle(open) {
      opener.setAttribute("aria-expanded", String(open));
      form.hidden = !open;
      if (open) status.focus();
      else opener.focus();
    }

    async function save(event) {
      event.preventDefault();
      clearErrors(form);
      if (!status.value) {
        showErrors(form, [{ field: [names.status], message: "Choose the new status.", code: "INVALID" }]);
        return;
      }
      const input = { ideaId: idea.id, status: status.value, note: note.value.trim() || null };
      const data = await app.run(() => app.api.request(CHANGE_STATUS, { input }), "Changing the status", () => form.requestSubmit());
      if (!data) return;
      const { idea: changed, userErrors } = data.changeIdeaStatus;
      if (userErrors.length) {
        showErrors(form, userErrors.map((err) => statusError(err, idea, input.status, names)));
        return;
      }
      announce(`“${idea.title}” is now ${app.label(changed.status)}.`);
      update(changed);
      list.querySelector(`[data-id="${CSS.escape(idea.id)}"] [data-action=status]`)?.focus();
    }

    return h("li", { class: "ie-mod-idea", "data-id": idea.id },
      h("div", { class: "ie-mod-idea-head" },
        h("h4", {}, h("button", { type: "button", class: "ie-link", onclick: () => app.open("idea", idea.id) }, idea.title)),
        h("p", { class: "ie-meta" }, statusBadge(app, idea.status),
          h("span", {}, tally(idea)),
          idea.score.comparisons > 0 && h("span", {}, plural(idea.score.comparisons, "comparison")))),
      opener, intervalBar(idea, scale), form);
  }

  /** A refused status change in the board's own words, beside the field at fault. */
  function statusError(error, idea, status, names) {
    const name = error.field.at(-1);
    const at = names[name] ? [names[name]] : [];
    if (error.code === "INVALID_TRANSITION") {
      return { ...error, field: at, message: `This idea cannot go from ${app.label(idea.status)} to ${app.label(status)}.` };
    }
    return { ...error, field: at };
  }

  function update(changed) {
    const index = ideas.findIndex((idea) => idea.id === changed.id);
    if (index < 0) return;
    ideas[index] = { ...ideas[index], ...changed };
    list.children[index].replaceWith(ideaRow(ideas[index], intervalScale(ideas)));
  }

  // After a decision. A refresh begun before it (a new token, live updates back) would answer with what was there
  // before the decision: it must not land after this one and put the merged idea back among the duplicates.
  const reload = async () => {
    const mine = ++loading;
    const mod = await app.run(moderation, "Loading moderation", reload);
    if (mine !== loading) return;
    if (mod) {
      board = mod;
      renderModeration();
    }
    await loadIdeas(false);
  };

  const excerpt = (text, n = 200) => (text.length > n ? `${text.slice(0, n)}…` : text);

  return {
    ready: load(),
    refresh: load,
    event(event) {
      // Another moderator's status change: the row follows, unless this one is being edited.
      if (event.__typename !== "IdeaStatusChangedEvent") return;
      const row = list.querySelector(`[data-id="${CSS.escape(event.change.idea.id)}"]`);
      const editing = row?.querySelector("[aria-expanded=true]");
      const idea = ideas.find((i) => i.id === event.change.idea.id);
      if (row && !editing && idea && idea.status !== event.change.to) update({ id: idea.id, status: event.change.to });
    },
  };
}
