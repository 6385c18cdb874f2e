// Small DOM helpers: build elements without innerHTML (no injection), show errors per field.

/** Create an element: el("td", {class: "num", "data-x": 1}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

/** Replace the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
}

/** Show per-field errors of a form: `errors` maps a field name to a message. */
export function showFieldErrors(prefix, fields, errors) {
  let first = null;
  for (const name of fields) {
    const message = errors[name] || "";
    const box = $(`${prefix}-${name}-error`);
    if (box) box.textContent = message;
    const input = document.querySelector(`[aria-describedby~="${prefix}-${name}-error"]`);
    if (input) {
      if (message) {
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      } else {
        input.removeAttribute("aria-invalid");
      }
    }
  }
  return first;
}

/** A definition list from [label, value] pairs. */
export function facts(node, pairs) {
  fill(node, ...pairs.flatMap(([label, value]) => [el("dt", {}, label), el("dd", {}, value ?? "–")]));
}

let toastTimer = null;
/** A short, polite status message at the bottom of the screen. */
export function toast(message) {
  const box = $("toast");
  box.textContent = message;
  box.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove("show"), 4000);
}

/** A function that runs `render` at most once per animation frame, however often called. */
export function coalesced(render) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render();
    });
  };
}
