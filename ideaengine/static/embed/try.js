// The try page (/embed/{workspace}/{board}/try): a host page served by the board's own server, so a newcomer can
// sign in to the board without building one. It speaks host.js's postMessage protocol like any host page, with a
// token the visitor pastes (an SSO token or an admin API key): it mints nothing and holds no secret, and keeps
// the token in this page's memory only (never in a URL or in storage).

const form = document.getElementById("try-sign-in");
const field = document.getElementById("try-token");
const status = document.getElementById("try-status");
const frame = document.getElementById("try-board");
const origin = location.origin; // the board is served by this server

let token = null;
let resent = false; // the board asked for a token again once already: sending the same one again would loop

frame.src = location.pathname.replace(/\/try\/?$/, "");

const say = (text) => { status.textContent = text; };
const post = (message) => frame.contentWindow?.postMessage(message, origin);

function send() {
  if (token) post({ type: "ideaengine:token", token });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const pasted = field.value.trim();
  if (!pasted) {
    say("Paste a token first: an SSO token (a JWT) or an API key (iek_…).");
    field.focus();
    return;
  }
  token = pasted;
  resent = false;
  field.value = "";
  send();
  say("Token sent: the board says who is signed in above its ideas.");
});

document.getElementById("try-sign-out").addEventListener("click", () => {
  token = null;
  field.value = "";
  post({ type: "ideaengine:sign-out" });
  say("Signed out: the board reads as a guest.");
});

window.addEventListener("message", (event) => {
  if (event.origin !== origin || event.source !== frame.contentWindow) return;
  const message = event.data;
  if (!message || typeof message !== "object") return;
  if (message.type === "ideaengine:ready") {
    send(); // the board (re)loaded: it knows no token yet
  } else if (message.type === "ideaengine:token-needed" && token) {
    if (!resent) {
      resent = true;
      send();
    } else {
      token = null;
      say(`The board needs a new token (${message.reason}). Paste a fresh one to sign in again.`);
    }
  } else if (message.type === "ideaengine:resize" && Number.isFinite(message.height)) {
    frame.style.height = `${Math.max(0, Math.ceil(message.height))}px`;
  }
});
