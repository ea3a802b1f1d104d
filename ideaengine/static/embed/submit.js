// Suggest an idea, with "did you mean" while typing: a suggestion opens the existing idea to vote on instead.
// Opened with a campaign, the idea is entered into it.
import { announce, debounce, h, replace } from "./dom.js";
import { SIMILAR, SUBMIT } from "./queries.js";
import { clearErrors, field, showErrors, statusBadge } from "./widgets.js";

const SUGGEST_AFTER_MS = 350;
const MIN_DRAFT = 4;

export function submitView(app, root, campaign = null) {
  const title = h("input", { type: "text", maxlength: 200, autocomplete: "off", required: true });
  const body = h("textarea", { rows: 4, maxlength: 10000 });
  const tags = h("input", { type: "text", autocomplete: "off" });
  const suggestions = h("div", { class: "ie-suggestions", id: "ie-suggestions", hidden: true });
  let asked = 0;

  const suggest = debounce(async () => {
    const text = `${title.value} ${body.value}`.trim();
    const mine = ++asked;
    if (title.value.trim().length < MIN_DRAFT || !app.board) {
      suggestions.hidden = true;
      return;
    }
    // A failed suggestion is not worth a banner: the form still works without it.
    const data = await app.api.request(SIMILAR, { boardId: app.board.id, text }).catch(() => null);
    if (mine !== asked || !data) return;
    showSuggestions(data.similarIdeas, "Did you mean one of these? Vote for it instead of posting it again.");
  }, SUGGEST_AFTER_MS);

  function showSuggestions(similar, heading) {
    if (!similar.length) {
      suggestions.hidden = true;
      return;
    }
    replace(suggestions, h("p", { id: "ie-suggestions-heading" }, heading),
      h("ul", { "aria-labelledby": "ie-suggestions-heading" }, similar.map(({ idea }) => h("li", {},
        h("button", { type: "button", class: "ie-suggestion", onclick: () => app.open("idea", idea.id) },
          idea.title), " ", statusBadge(app, idea.status)))));
    if (suggestions.hidden) announce(`${similar.length} similar idea${similar.length === 1 ? "" : "s"} found.`);
    suggestions.hidden = false;
  }

  title.addEventListener("input", suggest);
  body.addEventListener("input", suggest);

  const form = h("form", { class: "ie-submit", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    clearErrors(form);
    suggest.cancel();
    const input = {
      boardId: app.board.id, title: title.value, body: body.value,
      tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
      campaignId: campaign?.id ?? null,
    };
    const data = await app.run(() => app.api.request(SUBMIT, { input }), "Submitting", () => form.requestSubmit());
    if (!data) return;
    const { idea, userErrors } = data.submitIdea;
    if (userErrors.length) {
      showErrors(form, userErrors);
      return;
    }
    announce("Thank you: your idea was submitted.");
    app.open("idea", idea.id);
  } },
  field("Your idea", "title", title, "A short title, 3 to 200 characters."),
  suggestions,
  field("Details (optional)", "body", body),
  field("Tags (optional)", "tags", tags, "Separated by commas, up to 10."),
  h("p", { class: "ie-error", "data-error-for": "_form", tabindex: "-1", hidden: true }),
  h("button", { type: "submit", class: "ie-primary" }, "Submit idea"));

  replace(root, h("section", { class: "ie-submit-view", "aria-labelledby": "ie-submit-heading" },
    campaign && h("button", { type: "button", class: "ie-back", onclick: () => app.open("campaign", campaign.id) },
      `← ${campaign.title}`),
    h("h2", { id: "ie-submit-heading" }, campaign ? `Enter an idea in “${campaign.title}”` : "Suggest an idea"),
    !app.signedIn() && h("p", { class: "ie-note" }, "Sign in to the site to post an idea."),
    form));
  return { ready: Promise.resolve(), leave: () => suggest.cancel() };
}
