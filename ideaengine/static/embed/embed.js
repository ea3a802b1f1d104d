// The <script> snippet for host pages: puts the board in an iframe and speaks host.js's postMessage protocol for
// the host, so a host page needs no code of its own. A classic script (not a module), loaded from the board's
// own server:
//
//   <script src="https://ideas.example.com/static/embed/embed.js" data-board="acme/ideas"
//           data-token-url="/ideas-token" data-theme='{"--ie-accent": "#7b2d8e"}'></script>
//
// puts the board where the script is; or, from the host's own code:
//
//   const board = IdeaEngine.mount(element, { board: "acme/ideas", token: async () => "<JWT>" | null,
//                                            theme: { "--ie-accent": "#7b2d8e" } });
//   board.setTheme({...}); board.refreshToken(); board.signOut(); board.unmount();
//
// The token is asked of the host (its function, or a GET of data-token-url with the host's cookies) when the
// board says `ready` or `token-needed`, and posted to the board's origin only; it never goes in a URL.
(() => {
  "use strict";
  const script = document.currentScript;
  const server = script ? new URL(script.src, location.href).origin : location.origin;

  /** The board in an iframe inside `element`; returns the handle that controls it. */
  function mount(element, options = {}) {
    const [workspace, board] = String(options.board ?? "").split("/");
    if (!element || !workspace || !board) throw new Error('IdeaEngine.mount(element, {board: "workspace/board"})');
    const origin = new URL(options.server ?? server, location.href).origin;
    const frame = document.createElement("iframe");
    frame.src = `${origin}/embed/${encodeURIComponent(workspace)}/${encodeURIComponent(board)}`;
    frame.title = options.title ?? "Ideas";
    frame.style.cssText = `display: block; width: 100%; border: 0; height: ${options.height ?? 600}px`;
    let theme = options.theme ?? null;

    const post = (message) => frame.contentWindow?.postMessage(message, origin);
    async function sendToken() {
      if (typeof options.token !== "function") return;
      let token = null;
      try {
        token = await options.token();
      } catch (error) {
        console.warn("IdeaEngine: the token function failed", error);
      }
      if (typeof token === "string" && token) post({ type: "ideaengine:token", token });
    }
    function receive(event) {
      if (event.origin !== origin || event.source !== frame.contentWindow) return;
      const message = event.data;
      if (!message || typeof message !== "object") return;
      if (message.type === "ideaengine:ready") {
        if (theme) post({ type: "ideaengine:theme", theme });
        sendToken();
      } else if (message.type === "ideaengine:token-needed") {
        sendToken();
      } else if (message.type === "ideaengine:resize" && Number.isFinite(message.height)) {
        frame.style.height = `${Math.max(0, Math.ceil(message.height))}px`;
      }
      options.onMessage?.(message);
    }

    window.addEventListener("message", receive);
    element.append(frame);
    return {
      frame,
      setTheme(next) {
        theme = { ...theme, ...next };
        post({ type: "ideaengine:theme", theme: next });
      },
      refreshToken: sendToken,
      signOut: () => post({ type: "ideaengine:sign-out" }),
      unmount() {
        window.removeEventListener("message", receive);
        frame.remove();
      },
    };
  }

  /** A token from the host's backend (same origin as the host page, its cookies sent); none when it says no. */
  const fetchToken = (url) => async () => {
    const response = await fetch(url, { credentials: "same-origin" });
    return response.ok ? (await response.text()).trim() : null;
  };

  window.IdeaEngine = { mount };

  // The declarative form: data-board on the script tag mounts the board right where the script is.
  const data = script?.dataset;
  if (data?.board) {
    let theme;
    try {
      theme = data.theme ? JSON.parse(data.theme) : undefined;
    } catch {
      console.warn("IdeaEngine: data-theme is not JSON; the board keeps its own look");
    }
    const slot = document.createElement("div");
    script.after(slot);
    mount(slot, { board: data.board, token: data.tokenUrl && fetchToken(data.tokenUrl), theme, title: data.title });
  }
})();
