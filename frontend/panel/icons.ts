/** The few Material Design Icons the panel draws itself (mdi paths, Apache-2.0). */
import { svg, type SVGTemplateResult } from "lit";

const circle = "M12,2A10,10 0 0,0 2,12A10,10 0 0,0 12,22A10,10 0 0,0 22,12A10,10 0 0,0 12,2Z";

export const mdi = {
  menu: "M3,6H21V8H3V6M3,11H21V13H3V11M3,16H21V18H3V16Z",
  back: "M20,11V13H8L13.5,18.5L12.08,19.92L4.16,12L12.08,4.08L13.5,5.5L8,11H20Z",
  openInNew: "M14,3V5H17.59L7.76,14.83L9.17,16.24L19,6.41V10H21V3M19,19H5V5H12V3H5C3.89,3 3,3.9 3,5V19A2,2 0 0,0 5,21H19A2,2 0 0,0 21,19V12H19V19Z",
  embed: "M19,4C20.11,4 21,4.9 21,6V18A2,2 0 0,1 19,20H5C3.89,20 3,19.1 3,18V6A2,2 0 0,1 5,4H19M19,18V8H5V18H19Z",
  ok: `M10,17L5,12L6.41,10.59L10,14.17L17.59,6.58L19,8L10,17Z${circle}`,
  warn: "M13,14H11V10H13M13,18H11V16H13M1,21H23L12,2L1,21Z",
  fail: `M13,13H11V7H13M13,17H11V15H13${circle}`,
  skip: `M17,13H7V11H17${circle}`,
};

export function icon(path: string): SVGTemplateResult {
  return svg`<svg viewBox="0 0 24 24" aria-hidden="true"><path d=${path}></path></svg>`;
}
