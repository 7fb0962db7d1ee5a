import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useAccess } from "../access";
import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { api, call, type Schemas } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { when } from "../components/Status";
import { routesTo } from "./Deployments";
import { cellText } from "./Experiments";

type Version = Schemas["ModelVersionOut"];

/** A version's metrics by column: the key alone when one task logs it across the
 * versions shown, else TASK.KEY (as runs compare names them). */
export function metricColumns(versions: Pick<Version, "metrics">[]): {
  columns: string[];
  value: (v: Pick<Version, "metrics">, column: string) => number | undefined;
} {
  const tasks = new Map<string, Set<string>>();
  for (const v of versions)
    for (const [task, values] of Object.entries(v.metrics))
      for (const key of Object.keys(values)) (tasks.get(key) ?? tasks.set(key, new Set()).get(key)!).add(task);
  const columns: string[] = [];
  const where = new Map<string, [string | null, string]>();
  for (const key of Array.from(tasks.keys()).sort()) {
    const owners = Array.from(tasks.get(key)!).sort();
    if (owners.length === 1) {
      columns.push(key);
      where.set(key, [null, key]);
    } else
      for (const task of owners) {
        columns.push(`${task}.${key}`);
        where.set(`${task}.${key}`, [task, key]);
      }
  }
  const value = (v: Pick<Version, "metrics">, column: string) => {
    const [task, key] = where.get(column) ?? [null, column];
    if (task !== null) return v.metrics[task]?.[key];
    for (const values of Object.values(v.metrics)) if (key in values) return values[key];
    return undefined;
  };
  return { columns, value };
}

/** Registered models: their newest version and where their aliases point. */
export function ModelsView() {
  const q = useQuery({
    queryKey: ["models"],
    queryFn: () => call(api.GET("/api/v1/models")),
    refetchInterval: 5000,
  });
  return (
    <>
      <h1>Models</h1>
      <ErrorBox error={q.error} />
      {q.data && q.data.length === 0 && (
        <Empty title="No registered models yet">
          Register one from a task with <code>register_model(model, "churn")</code>, with{" "}
          <code>@component(register={"{"}"model": "churn"{"}"})</code>, or with{" "}
          <code>headwater models register ARTIFACT --name churn</code>.
        </Empty>
      )}
      {q.data && q.data.length > 0 && (
        <table className="data" aria-label="models">
          <thead>
            <tr>
              <th>model</th>
              <th>latest</th>
              <th>aliases</th>
              <th>updated</th>
              <th>description</th>
            </tr>
          </thead>
          <tbody>
            {q.data.map((m) => (
              <tr key={m.name}>
                <td>
                  <Link to={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
                </td>
                <td>v{m.latest_version}</td>
                <td>
                  {Object.entries(m.aliases)
                    .map(([a, v]) => `${a} → v${v}`)
                    .join(", ")}
                </td>
                <td>{when(m.updated_at)}</td>
                <td className="muted">{m.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** The deployments whose routes name this version now, and what served it. */
function VersionDeployments({ version }: { version: Version }) {
  const q = useQuery({
    queryKey: ["deployments"],
    queryFn: () => call(api.GET("/api/v1/deployments", { params: { query: { limit: 1000 } } })),
  });
  const routes = routesTo(q.data ?? [], version.model, version.version);
  return (
    <div aria-label={`deployments of version ${version.version}`}>
      <ErrorBox error={q.error} />
      {routes.length > 0 && (
        <>
          Deployed as:{" "}
          {routes.map(({ deployment, role }, i) => (
            <span key={`${deployment}-${role}`}>
              {i > 0 && ", "}
              <Link to={`/deployments/${encodeURIComponent(deployment)}`}>{deployment}</Link>{" "}
              <span className="muted">({role})</span>
            </span>
          ))}
        </>
      )}
    </div>
  );
}

function VersionLineage({ version }: { version: Version }) {
  const q = useQuery({
    queryKey: ["lineage", version.artifact_id],
    queryFn: () =>
      call(
        api.GET("/api/v1/artifacts/{artifact_id}/lineage", { params: { path: { artifact_id: version.artifact_id } } }),
      ),
  });
  return (
    <div className="card" style={{ marginTop: 10 }} aria-label={`lineage of version ${version.version}`}>
      <strong>Lineage of v{version.version}</strong> ({" "}
      <Link to={`/artifacts/${version.artifact_id}`}>the model artifact and its graph</Link>)
      <VersionDeployments version={version} />
      <ErrorBox error={q.error} />
      {q.data && (
        <ul>
          {q.data.upstream.map((n) => (
            <li key={`${n.artifact.id}-${n.depth}`}>
              {"← ".repeat(n.depth)}
              <Link to={`/artifacts/${n.artifact.id}`}>{n.artifact.name}</Link>{" "}
              <span className="muted">
                {n.artifact.type} from {n.producer_task ?? "an importer"}
                {n.run_id && (
                  <>
                    {" "}
                    in <Link to={`/runs/${n.run_id}`}>{n.run_id.slice(-8)}</Link>
                  </>
                )}
              </span>
            </li>
          ))}
          {q.data.upstream.length === 0 && <li className="muted">nothing upstream was recorded</li>}
        </ul>
      )}
    </div>
  );
}

/** One model: its versions with their metrics side by side, aliases (moved from here),
 * the alias history, and the lineage of a version back to its data. */
export function ModelView() {
  const { name = "" } = useParams();
  const client = useQueryClient();
  const model = useQuery({
    queryKey: ["model", name],
    queryFn: () => call(api.GET("/api/v1/models/{name}", { params: { path: { name } } })),
    retry: false,
  });
  const versions = useQuery({
    queryKey: ["model-versions", name],
    queryFn: () => call(api.GET("/api/v1/models/{name}/versions", { params: { path: { name } } })),
    enabled: model.isSuccess,
  });
  const history = useQuery({
    queryKey: ["model-history", name],
    queryFn: () => call(api.GET("/api/v1/models/{name}/history", { params: { path: { name } } })),
    enabled: model.isSuccess,
  });
  const [alias, setAlias] = useState("champion");
  const [target, setTarget] = useState("");
  const [search] = useSearchParams();
  const [shown, setShown] = useState<number | null>(search.get("version") ? Number(search.get("version")) : null);
  const access = useAccess();
  const move = useMutation({
    mutationFn: () =>
      call(
        api.PUT("/api/v1/models/{name}/aliases/{alias}", {
          params: { path: { name, alias } },
          body: { version: Number(target) },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ predicate: (q) => String(q.queryKey[0]).startsWith("model") }),
  });
  if (model.error) return <ErrorBox error={model.error} />;
  if (!model.data || !versions.data) return <div className="muted">loading…</div>;
  const list = versions.data;
  const { columns, value } = metricColumns(list);
  const lineageOf = list.find((v) => v.version === (shown ?? model.data.aliases.champion ?? model.data.latest_version));
  return (
    <>
      <h1>Model {model.data.name}</h1>
      {model.data.description && <p>{model.data.description}</p>}
      <div className="row" aria-label="aliases">
        {Object.entries(model.data.aliases).map(([a, v]) => (
          <span key={a} className="badge" style={{ background: "var(--accent)" }}>
            @{a} → v{v}
          </span>
        ))}
      </div>
      <form
        className="row"
        aria-label="move an alias"
        onSubmit={(e) => {
          e.preventDefault();
          move.mutate();
        }}
      >
        <label>
          alias
          <input value={alias} onChange={(e) => setAlias(e.target.value)} />
        </label>
        <label>
          version
          <select value={target} onChange={(e) => setTarget(e.target.value)}>
            <option value="">pick one</option>
            {list.map((v) => (
              <option key={v.version} value={v.version}>
                v{v.version}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={!target || !alias || move.isPending || !access.may("models")} title={access.why("models")}>
          point it there
        </button>
      </form>
      <ErrorBox error={move.error} />
      <h2>Versions ({list.length})</h2>
      <div className="scroll">
        <table className="data" aria-label="model versions">
          <thead>
            <tr>
              <th>version</th>
              <th>aliases</th>
              <th>flavor</th>
              {columns.map((c) => (
                <th key={c}>{c}</th>
              ))}
              <th>run</th>
              <th>registered</th>
            </tr>
          </thead>
          <tbody>
            {list.map((v) => (
              <tr
                key={v.version}
                className={`clickable${v.version === lineageOf?.version ? " selected" : ""}`}
                onClick={() => setShown(v.version)}
              >
                <td>v{v.version}</td>
                <td>{v.aliases.map((a) => `@${a}`).join(" ")}</td>
                <td>{v.flavor ?? <span className="muted">unknown</span>}</td>
                {columns.map((c) => (
                  <td key={c} data-column={c}>
                    {cellText(value(v, c))}
                  </td>
                ))}
                <td>{v.run_id ? <Link to={`/runs/${v.run_id}`}>{v.run_id.slice(-8)}</Link> : "-"}</td>
                <td>{when(v.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {lineageOf && <VersionLineage version={lineageOf} />}
      <h2>Alias history</h2>
      <table className="data" aria-label="alias history">
        <thead>
          <tr>
            <th>when</th>
            <th>alias</th>
            <th>from</th>
            <th>to</th>
            <th>by</th>
          </tr>
        </thead>
        <tbody>
          {(history.data ?? []).map((h, i) => (
            <tr key={i}>
              <td>{when(h.created_at)}</td>
              <td>@{h.alias}</td>
              <td>{h.from_version === null ? "-" : `v${h.from_version}`}</td>
              <td>{h.to_version === null ? "deleted" : `v${h.to_version}`}</td>
              <td className="muted">{h.actor}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
