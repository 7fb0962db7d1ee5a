import { type FormEvent, useState } from "react";
import { setToken } from "../api/client";

/** Sign in with an API token; says why when the last one was refused. */
export function SignIn({ problem }: { problem: string | null }) {
  const [value, setValue] = useState("");
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<string | null>(problem);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setChecking(true);
    const r = await fetch("/api/v1/me", { headers: { Authorization: `Bearer ${value.trim()}` } });
    setChecking(false);
    if (r.ok) setToken(value.trim());
    else setError(((await r.json().catch(() => ({}))) as { error?: string }).error ?? r.statusText);
  }
  return (
    <main className="signin card">
      <h1>Sign in to Headwater</h1>
      {error && (
        <div role="alert" className="error">
          {error.includes("revoked") || error.includes("expired")
            ? `Your token can no longer be used: ${error}. Ask for a new one.`
            : error}
        </div>
      )}
      <form onSubmit={submit}>
        <label style={{ display: "flex" }}>
          API token
          <input
            type="password"
            autoFocus
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder="hw_…"
            aria-describedby="token-help"
          />
        </label>
        <p id="token-help" className="muted">
          <code>headwater standalone</code> prints an admin token on its first start; create more with{" "}
          <code>headwater tokens create --user NAME</code>.
        </p>
        <button className="primary" type="submit" disabled={!value.trim() || checking}>
          {checking ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
