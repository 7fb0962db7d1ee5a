import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { getToken } from "../api/client";
import { SignIn } from "./SignIn";

afterEach(() => {
  localStorage.clear();
  vi.unstubAllGlobals();
});

test("a revoked token gets a clear explanation", () => {
  render(<SignIn problem="the token 'hw_abc...' was revoked" />);
  expect(screen.getByRole("alert")).toHaveTextContent(/can no longer be used.*revoked.*Ask for a new one/);
});

test("signing in checks the token with the server before keeping it", async () => {
  const calls: string[] = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    calls.push(`${url} ${(init.headers as Record<string, string>).Authorization}`);
    return new Response(JSON.stringify({ error: "the token is not known" }), { status: 401 });
  });
  render(<SignIn problem={null} />);
  await userEvent.type(screen.getByLabelText(/API token/), "hw_wrong");
  await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
  expect(await screen.findByRole("alert")).toHaveTextContent("the token is not known");
  expect(calls).toEqual(["/api/v1/me Bearer hw_wrong"]);
  expect(getToken()).toBeNull();
});
