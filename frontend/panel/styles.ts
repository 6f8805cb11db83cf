/** Looks like Home Assistant: its theme variables (light and dark), its cards and toolbar. */
import { unsafeCSS } from "lit";

/**
 * Our one static stylesheet needs nothing of Lit's css tag (interpolation checks, ~150 bytes
 * gzipped); the name `css` still gets it minified at build time (rollup.config.mjs).
 */
const css = (text: TemplateStringsArray) => unsafeCSS(text[0]);

export const styles = css`
  :host {
    display: block;
    min-height: 100%;
    background: var(--primary-background-color, #fafafa);
    color: var(--primary-text-color, #212121);
    font: 14px/20px var(--ha-font-family-body, var(--paper-font-body1_-_font-family, Roboto, Noto, sans-serif));
    --muted: var(--secondary-text-color, #727272);
    --line: 1px solid var(--divider-color, #e0e0e0);
    --accent: var(--primary-color, #03a9f4);
  }
  svg {
    width: 24px;
    height: 24px;
    fill: currentColor;
    flex: none;
  }
  .bar {
    display: flex;
    align-items: center;
    gap: 12px;
    height: var(--header-height, 56px);
    padding: 0 12px;
    background: var(--app-header-background-color, var(--accent));
    color: var(--app-header-text-color, #fff);
    border-bottom: var(--app-header-border-bottom, none);
    font-size: 20px;
    position: sticky;
    top: 0;
    z-index: 2;
  }
  .bar div {
    flex: 1;
    margin-left: 4px;
  }
  .ib {
    display: inline-flex;
    align-items: center;
    justify-content: center;
    width: 40px;
    height: 40px;
    border: 0;
    border-radius: 50%;
    background: none;
    color: inherit;
    cursor: pointer;
  }
  main {
    max-width: 840px;
    margin: 0 auto;
    padding: 16px;
    display: grid;
    gap: 16px;
  }
  :host([narrow]) main {
    padding: 8px;
    gap: 8px;
  }
  section {
    background: var(--ha-card-background, var(--card-background-color, #fff));
    border-radius: var(--ha-card-border-radius, 12px);
    box-shadow: var(--ha-card-box-shadow, none);
    border: var(--ha-card-border-width, 1px) solid var(--ha-card-border-color, var(--divider-color, #e0e0e0));
    overflow: hidden;
  }
  h2 {
    flex: 1;
    margin: 0;
    padding: 12px 16px 8px;
    font-size: 20px;
    font-weight: 400;
    line-height: 28px;
  }
  .row {
    display: flex;
    align-items: center;
    gap: 16px;
  }
  .who {
    padding: 16px;
  }
  .who b {
    display: block;
    font-size: 18px;
    font-weight: 500;
  }
  .av {
    display: flex;
    align-items: center;
    justify-content: center;
    flex: none;
    width: 40px;
    height: 40px;
    border-radius: 50%;
    background: var(--accent);
    color: var(--text-primary-color, #fff);
    font-weight: 500;
  }
  .who .av {
    width: 48px;
    height: 48px;
    font-size: 20px;
  }
  .muted,
  dt,
  li span {
    color: var(--muted);
  }
  .ok {
    --c: var(--success-color, #4caf50);
  }
  .warn {
    --c: var(--warning-color, #ffa600);
  }
  .fail {
    --c: var(--error-color, #db4437);
  }
  .skip {
    --c: var(--muted);
  }
  .pill {
    margin-left: auto;
    padding: 4px 12px 4px 8px;
    border-radius: 16px;
    font-weight: 500;
    white-space: nowrap;
    color: var(--c);
  }
  .pill,
  .alert {
    display: flex;
    gap: 8px;
    background: color-mix(in srgb, var(--c) 13%, transparent);
  }
  .pill svg {
    width: 20px;
    height: 20px;
  }
  .alert {
    margin: 0 16px 8px;
    padding: 12px;
    border-radius: 8px;
  }
  .alert > svg,
  li > svg {
    color: var(--c);
  }
  .alert b {
    display: block;
  }
  dl {
    display: grid;
    grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
    gap: 12px 16px;
    margin: 0;
    padding: 8px 16px 16px;
  }
  dl div:last-child {
    grid-column: 1 / -1;
  }
  dt {
    font-size: 12px;
    text-transform: uppercase;
    letter-spacing: 0.04em;
  }
  dd {
    margin: 2px 0 0;
    font-size: 16px;
    font-variant-numeric: tabular-nums;
    overflow-wrap: anywhere;
  }
  pre {
    margin: 0 16px 16px;
    padding: 12px;
    border-radius: 8px;
    background: var(--secondary-background-color, #f0f0f0);
    font: 13px/22px var(--code-font-family, ui-monospace, monospace);
    white-space: pre-wrap;
    overflow-wrap: anywhere;
  }
  .actions {
    display: flex;
    flex-wrap: wrap;
    justify-content: space-between;
    gap: 8px;
    padding: 8px 16px;
    border-top: var(--line);
  }
  .btn {
    display: inline-flex;
    align-items: center;
    gap: 8px;
    height: 36px;
    padding: 0 16px;
    border: 0;
    border-radius: 18px;
    background: none;
    color: var(--accent);
    font: inherit;
    font-weight: 500;
    cursor: pointer;
  }
  .btn:hover,
  .ib:hover {
    background: color-mix(in srgb, currentColor 10%, transparent);
  }
  .filled,
  .filled:hover {
    background: var(--accent);
    color: var(--text-primary-color, #fff);
  }
  .danger {
    color: var(--error-color, #db4437);
  }
  .btn:disabled {
    opacity: 0.5;
  }
  .grid {
    display: grid;
    grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
    gap: 8px;
    padding: 8px 16px 16px;
  }
  :host([narrow]) .grid {
    grid-template-columns: minmax(0, 1fr);
  }
  .tile {
    gap: 4px;
    padding: 8px 4px 8px 12px;
    border: var(--line);
    border-radius: 12px;
  }
  .tile .row {
    flex: 1;
    gap: 12px;
    min-width: 0;
    color: inherit;
    text-decoration: none;
  }
  .tile div {
    min-width: 0;
  }
  .tile div,
  small {
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  small {
    display: block;
    font-size: 12px;
  }
  .tile .ib {
    color: var(--muted);
  }
  ul {
    margin: 0;
    padding: 0 0 8px;
    list-style: none;
  }
  li {
    display: flex;
    gap: 16px;
    padding: 10px 16px;
  }
  li + li {
    border-top: var(--line);
  }
  li span {
    display: block;
    overflow-wrap: anywhere;
  }
  .empty {
    padding: 0 16px 16px;
  }
  iframe {
    display: block;
    width: 100%;
    height: calc(100vh - var(--header-height, 56px));
    border: 0;
  }
`;
