/** The sign-in page's few visible parts (rendered by the signer): status, error, actions. Text only, never HTML. */

export interface Action {
  label: string;
  href?: string;
  onClick?: () => void;
}

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`The sign-in page lacks #${id}.`);
  return found;
}

export function setTitle(text: string): void {
  element("title").textContent = text;
  document.title = `${text} · Home Assistant single sign-on`;
}

export function showStatus(text: string, actions: Action[] = []): void {
  element("status").textContent = text;
  element("error").hidden = true;
  showActions(actions);
}

export function showError(text: string, actions: Action[] = []): void {
  const error = element("error");
  error.textContent = text;
  error.hidden = false;
  element("status").textContent = "";
  showActions(actions);
}

function showActions(actions: Action[]): void {
  const box = element("actions");
  box.replaceChildren(
    ...actions.map((action) => {
      if (action.href !== undefined) {
        const link = document.createElement("a");
        link.href = action.href;
        link.className = "button";
        link.textContent = action.label;
        return link;
      }
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = action.label;
      if (action.onClick) button.addEventListener("click", action.onClick);
      return button;
    }),
  );
}
