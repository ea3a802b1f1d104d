// One idea: its text, vote, follow, status timeline (live) and comments with replies and reactions.
import { friendly } from "./api.js";
import { announce, formatDate, h, replace } from "./dom.js";
import { COMMENT_ADD, FOLLOW, IDEA, IDEA_STATUS, REACT } from "./queries.js";
import { clearErrors, field, showErrors, statusBadge, voteGroup } from "./widgets.js";

const REACTIONS = { THUMBS_UP: ["👍", "thumbs up"], HEART: ["❤️", "heart"], HOORAY: ["🎉", "hooray"],
  LAUGH: ["😄", "laugh"], CONFUSED: ["😕", "confused"] };

export function ideaView(app, root, id) {
  let idea = null;
  const back = h("button", { type: "button", class: "ie-back", onclick: () => app.open("list") }, "← All ideas");

  async function load() {
    const data = await app.run(() => app.api.request(IDEA, { id }), "Loading the idea", load);
    if (!data) {
      if (!idea) replace(root, back, h("p", { class: "ie-empty" }, "The idea could not be loaded."));
      return;
    }
    if (!data.idea) {
      replace(root, back, h("h2", {}, "This idea is not available"), h("p", {}, "It may have been removed."));
      return;
    }
    idea = data.idea;
    render();
  }

  function render() {
    const focused = root.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    replace(root, h("article", { class: "ie-detail", "aria-labelledby": "ie-idea-title" },
      back,
      h("h2", { id: "ie-idea-title" }, idea.title),
      h("p", { class: "ie-meta" }, statusBadge(app, idea.status),
        h("span", {}, `Submitted ${formatDate(idea.createdAt)}`),
        idea.tags.map((tag) => h("span", { class: "ie-tag" }, `#${tag}`))),
      idea.mergedInto && h("p", { class: "ie-note" }, "This idea was merged into ",
        h("button", { type: "button", class: "ie-link", onclick: () => app.open("idea", idea.mergedInto.id) },
          idea.mergedInto.title), ", which took its votes and comments."),
      idea.body && h("p", { class: "ie-body" }, idea.body),
      h("div", { class: "ie-actions" }, voteGroup(app, idea, (changed) => { idea = { ...idea, ...changed }; render(); }),
        followButton()),
      timeline(),
      comments()));
    if (focused) root.querySelector(`[data-action="${focused}"]`)?.focus();
  }

  function followButton() {
    const error = h("p", { class: "ie-error", role: "alert", hidden: true });
    const toggle = async () => {
      const follow = !idea.viewerFollows;
      const data = await app.run(() => app.api.request(FOLLOW, { input: { ideaId: idea.id, follow } }), "Following", toggle);
      if (!data) return;
      if (data.followIdea.userErrors.length) {
        replace(error, friendly(data.followIdea.userErrors[0]));
        error.hidden = false;
        return;
      }
      idea = { ...idea, ...data.followIdea.idea };
      announce(follow ? "You follow this idea: you will hear when its status changes." : "You no longer follow it.");
      render();
    };
    return h("div", { class: "ie-follow" },
      h("button", { type: "button", "aria-pressed": String(idea.viewerFollows), "data-action": "follow", onclick: toggle },
        idea.viewerFollows ? "Following" : "Follow"),
      h("span", { class: "ie-muted" }, `${idea.followerCount} following`), error);
  }

  function timeline() {
    return h("section", { class: "ie-timeline", "aria-labelledby": "ie-timeline-heading" },
      h("h3", { id: "ie-timeline-heading" }, "Status"),
      h("ol", {}, idea.statusHistory.map((change) => h("li", {},
        h("strong", {}, app.label(change.to)), " ",
        h("time", { datetime: change.at }, formatDate(change.at)),
        change.actor?.name && h("span", { class: "ie-muted" }, ` by ${change.actor.name}`),
        change.note && h("p", { class: "ie-note" }, change.note)))));
  }

  function comments() {
    const list = idea.comments.edges.map(({ node }) => h("li", { class: "ie-comment" },
      comment(node),
      node.replies.edges.length > 0 && h("ol", { class: "ie-replies", "aria-label": "Replies" },
        node.replies.edges.map(({ node: reply }) => h("li", { class: "ie-comment" }, comment(reply)))),
      !node.deletedAt && idea.status !== "MERGED" && replyToggle(node)));
    return h("section", { class: "ie-comments", "aria-labelledby": "ie-comments-heading" },
      h("h3", { id: "ie-comments-heading" }, `Comments (${idea.comments.totalCount})`),
      list.length ? h("ol", {}, list) : h("p", { class: "ie-muted" }, "No comments yet."),
      idea.status !== "MERGED" && commentForm(null));
  }

  function comment(node) {
    return h("div", { class: node.official ? "ie-comment-body ie-official" : "ie-comment-body" },
      h("p", { class: "ie-meta" }, h("strong", {}, node.author?.name ?? "Someone"),
        node.official && h("span", { class: "ie-badge" }, "Official answer"),
        h("time", { datetime: node.createdAt }, formatDate(node.createdAt))),
      h("p", {}, node.body),
      !node.deletedAt && h("div", { class: "ie-reactions", role: "group", "aria-label": "Reactions" },
        node.reactions.map((r) => h("button", {
          type: "button", "aria-pressed": String(r.viewerReacted), "data-action": `react-${node.id}-${r.reaction}`,
          onclick: () => react(node, r),
        }, h("span", { "aria-hidden": "true" }, REACTIONS[r.reaction][0]),
        h("span", { class: "ie-sr" }, REACTIONS[r.reaction][1]), ` ${r.count}`))));
  }

  async function react(node, r) {
    const input = { commentId: node.id, reaction: r.reaction, on: !r.viewerReacted };
    const data = await app.run(() => app.api.request(REACT, { input }), "Reacting", () => react(node, r));
    if (!data) return;
    if (data.reactToComment.userErrors.length) {
      app.problem(friendly(data.reactToComment.userErrors[0]));
      return;
    }
    node.reactions = data.reactToComment.comment.reactions;
    render();
  }

  function replyToggle(node) {
    const slot = h("div", { class: "ie-reply-slot" });
    const button = h("button", { type: "button", class: "ie-link", "aria-expanded": "false", onclick: () => {
      const opening = button.getAttribute("aria-expanded") === "false";
      button.setAttribute("aria-expanded", String(opening));
      if (opening) {
        replace(slot, commentForm(node));
        slot.querySelector("textarea").focus();
      } else slot.replaceChildren();
    } }, "Reply");
    return h("div", {}, button, slot);
  }

  function commentForm(parent) {
    const name = parent ? `body-${parent.id}` : "body";
    const body = h("textarea", { rows: parent ? 2 : 3, maxlength: 5000 });
    const form = h("form", { class: "ie-comment-form", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(form);
      const input = { ideaId: idea.id, body: body.value, parentId: parent?.id ?? null };
      const data = await app.run(() => app.api.request(COMMENT_ADD, { input }), "Commenting", () => form.requestSubmit());
      if (!data) return;
      const { userErrors } = data.addComment;
      if (userErrors.length) {
        showErrors(form, userErrors.map((err) => (err.field.at(-1) === "body" ? { ...err, field: [name] } : err)));
        return;
      }
      announce(parent ? "Your reply was posted." : "Your comment was posted.");
      await load();
    } },
    field(parent ? "Your reply" : "Add a comment", name, body),
    h("p", { class: "ie-error", "data-error-for": "_form", tabindex: "-1", hidden: true }),
    h("button", { type: "submit" }, parent ? "Post reply" : "Post comment"));
    return form;
  }

  const ready = load();
  ready.then(() => app.live.subscribe("idea", IDEA_STATUS, { ideaId: id }, ({ ideaStatusChanged: change }) => {
    if (!idea) return;
    idea = { ...idea, status: change.to, statusHistory: [...idea.statusHistory, change] };
    render();
  }));
  return { ready, refresh: load, leave: () => app.live.unsubscribe("idea") };
}
