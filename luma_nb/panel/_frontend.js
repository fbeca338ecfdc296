// The panel's browser-side parts, as one anywidget ES module (luma_nb/panel/_frontend.py).
//
// ipywidgets cannot reach the clipboard, scroll the page or keep a file's bytes out of the
// saved widget state; these three small views can. The Python class picks one by its `kind`.
// The module imports nothing and fetches nothing: it only touches its own element, the
// clipboard, and (for "anchor") the one field it is told to focus.

const FEEDBACK_MS = 2000;

function makeButton(text, icon) {
  const button = document.createElement("button");
  button.type = "button";
  // Lab's own button classes: the part looks and themes like the widgets around it.
  button.className = "jupyter-widgets jupyter-button widget-button";
  const mark = document.createElement("i");
  mark.className = `fa fa-${icon}`;
  mark.setAttribute("aria-hidden", "true");
  const words = document.createElement("span");
  words.textContent = text;
  button.append(mark, " ", words);
  return { button, words };
}

// Copy `text`; resolves to "" when copied, else why not (in a few words).
async function copyText(text) {
  let refusal = "the clipboard is not available here";
  // The asynchronous clipboard needs a secure page (https or localhost) and permission.
  if (window.isSecureContext && navigator.clipboard && navigator.clipboard.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return "";
    } catch (error) {
      refusal = `the browser refused (${(error && error.name) || error})`;
    }
  }
  // The older way still works on plain-http servers: copy the selection of a hidden field.
  const field = document.createElement("textarea");
  field.value = text;
  field.setAttribute("readonly", "");
  field.style.cssText = "position:fixed;top:0;left:0;width:1px;height:1px;opacity:0";
  document.body.append(field);
  field.select();
  let copied = false;
  try {
    copied = typeof document.execCommand === "function" && document.execCommand("copy");
  } catch (_error) {
    copied = false;
  }
  field.remove();
  return copied ? "" : refusal;
}

function renderCopy({ model, el }) {
  el.classList.add("luma-nb-copy");
  const { button, words } = makeButton(model.get("label"), "clipboard");
  button.title = "Copy the code to the clipboard (it is also shown below)";
  el.append(button);
  let timer = null;
  const settle = () => {
    words.textContent = model.get("label");
    button.classList.remove("mod-success", "mod-warning");
  };
  button.addEventListener("click", async () => {
    const problem = await copyText(model.get("text"));
    model.send({ event: "copy", ok: !problem, problem });
    words.textContent = problem ? "Copy failed: select the code below" : "Copied";
    button.classList.add(problem ? "mod-warning" : "mod-success");
    clearTimeout(timer);
    timer = setTimeout(settle, FEEDBACK_MS);
  });
  model.on("change:label", settle);
  return () => {
    clearTimeout(timer);
    model.off("change:label", settle);
  };
}

function renderAnchor({ model, el }) {
  el.classList.add("luma-nb-anchor");
  const reveal = (message) => {
    if (!message || message.do !== "reveal") return;
    const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    el.scrollIntoView({ block: "start", behavior: still ? "auto" : "smooth" });
    // Focus without a second scroll: the one above already brought the field into view.
    const scope = message.scope ? el.closest(message.scope) : null;
    const target = scope && message.focus ? scope.querySelector(message.focus) : null;
    if (target) target.focus({ preventScroll: true });
  };
  model.on("msg:custom", reveal);
  return () => model.off("msg:custom", reveal);
}

function renderFile({ model, el }) {
  el.classList.add("luma-nb-file");
  const input = document.createElement("input");
  input.type = "file";
  input.hidden = true;
  const { button, words } = makeButton(model.get("label"), "upload");
  const status = document.createElement("span");
  status.className = "luma-nb-file-status luma-nb-muted";
  status.setAttribute("role", "status");
  el.append(button, input, status);
  const update = () => {
    words.textContent = model.get("label");
    status.textContent = model.get("status");
    input.accept = model.get("accept");
    button.disabled = model.get("disabled");
    button.title = model.get("hint");
  };
  button.addEventListener("click", () => {
    input.value = ""; // choosing the same file again is a new choice
    input.click();
  });
  input.addEventListener("change", async () => {
    const file = input.files && input.files[0];
    if (!file) return;
    const about = { event: "file", name: file.name, type: file.type, size: file.size };
    const limit = model.get("max_bytes");
    if (limit && file.size > limit) {
      model.send(about); // too large: the kernel says so, the bytes stay here
      return;
    }
    // The bytes go to the kernel as a message, never into the widget's (saved) state.
    model.send(about, undefined, [await file.arrayBuffer()]);
  });
  const names = ["label", "status", "hint", "accept", "disabled"];
  for (const name of names) model.on(`change:${name}`, update);
  update();
  return () => {
    for (const name of names) model.off(`change:${name}`, update);
  };
}

const VIEWS = { copy: renderCopy, anchor: renderAnchor, file: renderFile };

export default {
  render(context) {
    const view = VIEWS[context.model.get("kind")];
    return view ? view(context) : undefined;
  },
};
