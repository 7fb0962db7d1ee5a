import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess } from "../access";
import { diffLines } from "diff";
import { type FormEvent, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, call } from "../api/client";
import { Dag } from "../components/Dag";
import { ErrorBox } from "../components/Empty";
import { when } from "../components/Status";
import { graphFromSpec } from "../graph";
import { fieldKind, initialText, type ParamSpec, parseField } from "../paramform";
import { ScheduleEditor } from "./Schedules";

type Tab = "graph" | "trigger" | "versions" | "schedule";

export function PipelineView() {
  const { name = "" } = useParams();
  const [tab, setTab] = useState<Tab>("graph");
  const versions = useQuery({
    queryKey: ["versions", name],
    queryFn: () =>
      call(api.GET("/api/v1/pipelines/{name}/versions", { params: { path: { name }, query: { limit: 200 } } })),
  });
  const latest = versions.data?.items[0];
  const detail = useQuery({
    queryKey: ["version", latest?.id],
    enabled: !!latest,
    queryFn: () => call(api.GET("/api/v1/versions/{version_id}", { params: { path: { version_id: latest!.id } } })),
  });
  const spec = detail.data?.spec as Record<string, unknown> | undefined;
  const graph = useMemo(() => (spec ? graphFromSpec(spec) : null), [spec]);
  return (
    <>
      <h1>{name}</h1>
      <ErrorBox error={versions.error ?? detail.error} />
      {spec && (
        <p className="muted">
          {(spec.description as string) ?? ""} · version <code>{latest?.id}</code> ·{" "}
          <Link to={`/runs?pipeline=${encodeURIComponent(name)}`}>runs</Link>
        </p>
      )}
      <div className="tabs" role="tablist">
        {(["graph", "trigger", "versions", "schedule"] as Tab[]).map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
            {t}
          </button>
        ))}
      </div>
      {tab === "graph" && graph && <Dag graph={graph} />}
      {tab === "trigger" && spec && latest && <TriggerForm name={name} spec={spec} version={latest.id} />}
      {tab === "versions" && versions.data && <Versions items={versions.data.items} />}
      {tab === "schedule" && <ScheduleEditor pipeline={name} />}
    </>
  );
}

function TriggerForm({ name, spec, version }: { name: string; spec: Record<string, unknown>; version: string }) {
  const params = ((spec.root as Record<string, unknown>).inputs ?? {}) as Record<string, ParamSpec>;
  const entries = Object.entries(params).filter(([, p]) => p.kind === "parameter");
  const [texts, setTexts] = useState<Record<string, string>>(() =>
    Object.fromEntries(entries.map(([k, p]) => [k, initialText(p)])),
  );
  const [cache, setCache] = useState(true);
  const navigate = useNavigate();
  const client = useQueryClient();
  const parsed = Object.fromEntries(entries.map(([k, p]) => [k, parseField(p, texts[k] ?? "")]));
  const invalid = Object.values(parsed).some((r) => r.error);
  const access = useAccess();
  const trigger = useMutation({
    mutationFn: () => {
      const parameters: Record<string, unknown> = {};
      for (const [k, r] of Object.entries(parsed)) if (r.value !== undefined) parameters[k] = r.value;
      return call(
        api.POST("/api/v1/pipelines/{name}/runs", { params: { path: { name } }, body: { parameters, version, cache } }),
      );
    },
    onSuccess: (run) => {
      client.invalidateQueries({ queryKey: ["runs"] });
      navigate(`/runs/${run.id}`);
    },
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    trigger.mutate();
  }
  return (
    <form onSubmit={submit} className="card" aria-label="trigger a run">
      {entries.length === 0 && <p className="muted">This pipeline takes no parameters.</p>}
      <div style={{ display: "grid", gap: 10, maxWidth: 520 }}>
        {entries.map(([k, p]) => {
          const kind = fieldKind(p);
          const err = parsed[k].error;
          const id = `param-${k}`;
          return (
            <label key={k} htmlFor={id}>
              <span>
                {k} <span className="muted">({p.type?.kind ?? "any"}{p.has_default ? "" : ", required"})</span>
              </span>
              {kind === "bool" ? (
                <select id={id} value={texts[k] || "false"} onChange={(e) => setTexts({ ...texts, [k]: e.target.value })}>
                  <option value="true">true</option>
                  <option value="false">false</option>
                </select>
              ) : kind === "choice" ? (
                <select id={id} value={texts[k]} onChange={(e) => setTexts({ ...texts, [k]: e.target.value })}>
                  {p.constraints!.enum!.map((v) => (
                    <option key={String(v)} value={String(v)}>
                      {String(v)}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  id={id}
                  name={k}
                  inputMode={kind === "integer" || kind === "number" ? "decimal" : undefined}
                  value={texts[k]}
                  aria-invalid={!!err}
                  onChange={(e) => setTexts({ ...texts, [k]: e.target.value })}
                />
              )}
              {p.description && <span className="muted">{p.description}</span>}
              {err && <span className="error">{err}</span>}
            </label>
          );
        })}
        <label className="inline">
          <input type="checkbox" checked={cache} onChange={(e) => setCache(e.target.checked)} /> use the cache
        </label>
      </div>
      <ErrorBox error={trigger.error} />
      <p>
        <button className="primary" type="submit" disabled={invalid || trigger.isPending || !access.may("run")} title={access.why("run")}>
          {trigger.isPending ? "Triggering…" : "Trigger run"}
        </button>
      </p>
    </form>
  );
}

function Versions({ items }: { items: Array<{ id: string; created_at: string; deployed: boolean; files: string[] }> }) {
  const [left, setLeft] = useState(items[1]?.id ?? items[0]?.id);
  const [right, setRight] = useState(items[0]?.id);
  const source = (id?: string) =>
    useQuery({
      queryKey: ["source", id],
      enabled: !!id,
      queryFn: () => call(api.GET("/api/v1/versions/{version_id}/source", { params: { path: { version_id: id! } } })),
    });
  const a = source(left);
  const b = source(right);
  const files = Array.from(new Set([...Object.keys(a.data ?? {}), ...Object.keys(b.data ?? {})])).sort();
  return (
    <div>
      <table className="data" style={{ marginBottom: 12 }}>
        <thead>
          <tr>
            <th>version</th>
            <th>created</th>
            <th>files</th>
            <th>compare</th>
          </tr>
        </thead>
        <tbody>
          {items.map((v) => (
            <tr key={v.id}>
              <td>
                <code>{v.id}</code>
              </td>
              <td>{when(v.created_at)}</td>
              <td>{v.deployed ? v.files.join(", ") : <span className="muted">not deployed</span>}</td>
              <td>
                <label className="inline">
                  <input type="radio" name="left" checked={left === v.id} onChange={() => setLeft(v.id)} /> old
                </label>{" "}
                <label className="inline">
                  <input type="radio" name="right" checked={right === v.id} onChange={() => setRight(v.id)} /> new
                </label>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorBox error={a.error ?? b.error} />
      {files.map((f) => {
        const parts = diffLines(a.data?.[f] ?? "", b.data?.[f] ?? "");
        return (
          <div key={f} className="card" style={{ marginBottom: 10 }}>
            <strong>{f}</strong>
            <pre className="log" aria-label={`source of ${f}`}>
              {parts.map((p, i) => (
                <span
                  key={i}
                  style={{
                    background: p.added ? "rgba(46,157,79,.35)" : p.removed ? "rgba(210,59,59,.35)" : undefined,
                  }}
                >
                  {p.value
                    .split("\n")
                    .filter((_, j, arr) => j < arr.length - 1 || arr[j] !== "")
                    .map((line) => `${p.added ? "+" : p.removed ? "-" : " "} ${line}\n`)
                    .join("")}
                </span>
              ))}
            </pre>
          </div>
        );
      })}
    </div>
  );
}
