// Secrets, connections and variables of the current namespace. Secret values and
// connection passwords are write-only: set here, never shown (the API never returns them).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import { useAccess } from "../access";
import { api, call } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { ConfirmDelete, ReadOnlyNote } from "../components/Guarded";
import { when } from "../components/Status";

/** A variable's value as typed: JSON if it parses as JSON, else the text itself. */
export function parseVariableValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The body of PUT /connections from the form: empty fields left out, the port a number. */
export function connectionBody(form: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(form)) {
    const v = value.trim();
    if (!v) continue;
    body[key] = key === "port" ? Number(v) : key === "password" ? value : v;
  }
  return body;
}

function useSaved(key: string) {
  const client = useQueryClient();
  return () => client.invalidateQueries({ queryKey: [key] });
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <label>
      {label}
      {children}
    </label>
  );
}

function submit(e: FormEvent, go: () => void) {
  e.preventDefault();
  go();
}

export function SecretsView() {
  const { may, why, namespace } = useAccess();
  const saved = useSaved("secrets");
  const q = useQuery({ queryKey: ["secrets"], queryFn: () => call(api.GET("/api/v1/secrets")) });
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [description, setDescription] = useState("");
  const put = useMutation({
    mutationFn: () => call(api.PUT("/api/v1/secrets", { body: { name: name.trim(), value, description: description || null } })),
    onSuccess: () => {
      setName("");
      setValue("");
      setDescription("");
      void saved();
    },
  });
  const remove = useMutation({
    mutationFn: (n: string) => call(api.DELETE("/api/v1/secrets/{name}", { params: { path: { name: n } } })),
    onSuccess: saved,
  });
  const allowed = may("secrets");
  const reason = why("secrets");
  return (
    <>
      <h1>Secrets of {namespace}</h1>
      <p className="muted">Values are write-only: set or replace one here; nobody can read it back (tasks get it at run time).</p>
      <ReadOnlyNote why={reason} />
      <ErrorBox error={q.error ?? put.error ?? remove.error} />
      <form className="inline card" aria-label="set a secret" onSubmit={(e) => submit(e, () => put.mutate())}>
        <Field label="name">
          <input value={name} onChange={(e) => setName(e.target.value)} disabled={!allowed} aria-label="secret name" />
        </Field>
        <Field label="value">
          <input
            type="password"
            autoComplete="new-password"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            disabled={!allowed}
            aria-label="secret value"
          />
        </Field>
        <Field label="description">
          <input value={description} onChange={(e) => setDescription(e.target.value)} disabled={!allowed} />
        </Field>
        <button className="primary" type="submit" disabled={!allowed || !name.trim() || !value || put.isPending} title={reason}>
          save secret
        </button>
      </form>
      {q.data && q.data.length === 0 ? (
        <Empty title="No secrets yet" />
      ) : (
        <table className="data" aria-label="secrets">
          <thead>
            <tr><th>name</th><th>description</th><th>updated</th><th>by</th><th /></tr>
          </thead>
          <tbody>
            {q.data?.map((s) => (
              <tr key={s.name}>
                <td><code>{s.name}</code></td>
                <td>{s.description}</td>
                <td>{when(s.updated_at)}</td>
                <td className="muted">{s.updated_by}</td>
                <td>
                  <ConfirmDelete what={`secret ${s.name}`} disabled={!allowed} title={reason} pending={remove.isPending} onConfirm={() => remove.mutate(s.name)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

const CONNECTION_FIELDS = ["name", "uri", "type", "host", "port", "login", "password", "schema", "description"] as const;

export function ConnectionsView() {
  const { may, why, namespace } = useAccess();
  const saved = useSaved("connections");
  const q = useQuery({ queryKey: ["connections"], queryFn: () => call(api.GET("/api/v1/connections")) });
  const empty = Object.fromEntries(CONNECTION_FIELDS.map((f) => [f, ""])) as Record<string, string>;
  const [form, setForm] = useState(empty);
  const put = useMutation({
    mutationFn: () =>
      call(api.PUT("/api/v1/connections", { body: connectionBody(form) as { name: string } })),
    onSuccess: () => {
      setForm(empty);
      void saved();
    },
  });
  const remove = useMutation({
    mutationFn: (n: string) => call(api.DELETE("/api/v1/connections/{name}", { params: { path: { name: n } } })),
    onSuccess: saved,
  });
  const allowed = may("connections");
  const reason = why("connections");
  return (
    <>
      <h1>Connections of {namespace}</h1>
      <p className="muted">
        Give a URI (<code>postgresql://user:password@host:5432/db</code>) or its parts (which override the URI's). The password is write-only.
      </p>
      <ReadOnlyNote why={reason} />
      <ErrorBox error={q.error ?? put.error ?? remove.error} />
      <form className="inline card" aria-label="set a connection" onSubmit={(e) => submit(e, () => put.mutate())}>
        {CONNECTION_FIELDS.map((f) => (
          <Field key={f} label={f}>
            <input
              type={f === "password" || f === "uri" ? "password" : f === "port" ? "number" : "text"}
              autoComplete={f === "password" || f === "uri" ? "new-password" : "off"}
              value={form[f]}
              onChange={(e) => setForm({ ...form, [f]: e.target.value })}
              disabled={!allowed}
              aria-label={`connection ${f}`}
            />
          </Field>
        ))}
        <button className="primary" type="submit" disabled={!allowed || !form.name.trim() || put.isPending} title={reason}>
          save connection
        </button>
      </form>
      {q.data && q.data.length === 0 ? (
        <Empty title="No connections yet" />
      ) : (
        <table className="data" aria-label="connections">
          <thead>
            <tr><th>name</th><th>type</th><th>host</th><th>login</th><th>schema</th><th>password</th><th>updated</th><th /></tr>
          </thead>
          <tbody>
            {q.data?.map((c) => (
              <tr key={c.name}>
                <td><code>{c.name}</code></td>
                <td>{c.type}</td>
                <td>{c.host}{c.port ? `:${c.port}` : ""}</td>
                <td>{c.login}</td>
                <td>{c.schema}</td>
                <td className="muted">{c.has_password ? "set" : "-"}</td>
                <td>{when(c.updated_at)}</td>
                <td>
                  <ConfirmDelete what={`connection ${c.name}`} disabled={!allowed} title={reason} pending={remove.isPending} onConfirm={() => remove.mutate(c.name)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function VariablesView() {
  const { may, why, namespace } = useAccess();
  const saved = useSaved("variables");
  const q = useQuery({ queryKey: ["variables"], queryFn: () => call(api.GET("/api/v1/variables")) });
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [description, setDescription] = useState("");
  const put = useMutation({
    mutationFn: () =>
      call(
        api.PUT("/api/v1/variables", {
          body: { name: name.trim(), value: parseVariableValue(value) as never, description: description || null },
        }),
      ),
    onSuccess: () => {
      setName("");
      setValue("");
      setDescription("");
      void saved();
    },
  });
  const remove = useMutation({
    mutationFn: (n: string) => call(api.DELETE("/api/v1/variables/{name}", { params: { path: { name: n } } })),
    onSuccess: saved,
  });
  const allowed = may("variables");
  const reason = why("variables");
  return (
    <>
      <h1>Variables of {namespace}</h1>
      <p className="muted">A value is JSON (<code>42</code>, <code>{'{"a": 1}'}</code>) or, if it does not parse, plain text. To change one, save it again under its name.</p>
      <ReadOnlyNote why={reason} />
      <ErrorBox error={q.error ?? put.error ?? remove.error} />
      <form className="inline card" aria-label="set a variable" onSubmit={(e) => submit(e, () => put.mutate())}>
        <Field label="name">
          <input value={name} onChange={(e) => setName(e.target.value)} disabled={!allowed} aria-label="variable name" />
        </Field>
        <Field label="value">
          <input value={value} onChange={(e) => setValue(e.target.value)} disabled={!allowed} aria-label="variable value" />
        </Field>
        <Field label="description">
          <input value={description} onChange={(e) => setDescription(e.target.value)} disabled={!allowed} />
        </Field>
        <button className="primary" type="submit" disabled={!allowed || !name.trim() || put.isPending} title={reason}>
          save variable
        </button>
      </form>
      {q.data && q.data.length === 0 ? (
        <Empty title="No variables yet" />
      ) : (
        <table className="data" aria-label="variables">
          <thead>
            <tr><th>name</th><th>value</th><th>description</th><th>updated</th><th /></tr>
          </thead>
          <tbody>
            {q.data?.map((v) => (
              <tr key={v.name}>
                <td><code>{v.name}</code></td>
                <td><code>{JSON.stringify(v.value)}</code></td>
                <td>{v.description}</td>
                <td>{when(v.updated_at)}</td>
                <td>
                  <ConfirmDelete what={`variable ${v.name}`} disabled={!allowed} title={reason} pending={remove.isPending} onConfirm={() => remove.mutate(v.name)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
