import { expect, test } from "vitest";
import { startHomeAssistantDouble } from "./index.js";

test("the double serves host pages from Home Assistant's origin, GET and exact path only", async () => {
  const pages: Record<string, { contentType: string; body: string }> = { "/host.html": { contentType: "text/html", body: "<p>hi</p>" } };
  const ha = await startHomeAssistantDouble({ pages });
  try {
    const ok = await fetch(`${ha.url}/host.html`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("text/html");
    expect(await ok.text()).toBe("<p>hi</p>");
    pages["/later.js"] = { contentType: "text/javascript", body: "1" };
    expect((await fetch(`${ha.url}/later.js`)).status).toBe(200);
    expect((await fetch(`${ha.url}/host.html/x`)).status).toBe(404);
    expect((await fetch(`${ha.url}/host.html`, { method: "POST" })).status).not.toBe(200);
  } finally {
    await ha.close();
  }
});

test("/auth/token reads multipart/form-data bodies, as home-assistant-js-websocket sends them", async () => {
  const ha = await startHomeAssistantDouble();
  try {
    const user = ha.addUser({ name: "m" });
    const refresh = ha.createRefreshToken(user.id);
    const form = new FormData();
    form.append("grant_type", "refresh_token");
    form.append("refresh_token", refresh.token);
    form.append("client_id", `${ha.url}/`);
    const response = await fetch(`${ha.url}/auth/token`, { method: "POST", body: form });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ token_type: "Bearer", expires_in: 1800 });
  } finally {
    await ha.close();
  }
});
