import { useEffect, useState } from "react";
import { NavLink, Route, Routes } from "react-router-dom";
import { AccessProvider, NamespaceSwitcher } from "./access";
import { authProblem, getToken } from "./api/client";
import { ArtifactView } from "./views/Artifact";
import { AssetsView } from "./views/Assets";
import { AuditView } from "./views/Audit";
import { CompareView } from "./views/Compare";
import { DeploymentsView, DeploymentView } from "./views/Deployments";
import { ExperimentsView } from "./views/Experiments";
import { MembersView } from "./views/Members";
import { ModelsView, ModelView } from "./views/Models";
import { PipelineView } from "./views/Pipeline";
import { PipelinesView } from "./views/Pipelines";
import { RunView } from "./views/Run";
import { RunsView } from "./views/Runs";
import { SchedulesView } from "./views/Schedules";
import { ConnectionsView, SecretsView, VariablesView } from "./views/Settings";
import { SignIn } from "./views/SignIn";
import { StudiesView, StudyView } from "./views/Studies";

function useToken(): string | null {
  const [token, set] = useState(getToken());
  useEffect(() => {
    const update = () => set(getToken());
    window.addEventListener("headwater-auth", update);
    window.addEventListener("storage", update);
    return () => {
      window.removeEventListener("headwater-auth", update);
      window.removeEventListener("storage", update);
    };
  }, []);
  return token;
}

function useTheme(): [string, () => void] {
  const [theme, setTheme] = useState(
    () =>
      localStorage.getItem("headwater.theme") ??
      (window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light"),
  );
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("headwater.theme", theme);
  }, [theme]);
  return [theme, () => setTheme(theme === "dark" ? "light" : "dark")];
}

export function App() {
  const token = useToken();
  const [theme, toggle] = useTheme();
  if (!token) return <SignIn problem={authProblem()} />;
  return (
    <AccessProvider>
    <div className="layout">
      <nav className="side" aria-label="main">
        <div className="brand">Headwater</div>
        <NamespaceSwitcher />
        <NavLink to="/" end>Pipelines</NavLink>
        <NavLink to="/runs">Runs</NavLink>
        <NavLink to="/experiments">Experiments</NavLink>
        <NavLink to="/studies">Studies</NavLink>
        <NavLink to="/models">Models</NavLink>
        <NavLink to="/deployments">Deployments</NavLink>
        <NavLink to="/compare">Compare</NavLink>
        <NavLink to="/schedules">Schedules</NavLink>
        <NavLink to="/assets">Assets</NavLink>
        <NavLink to="/audit">Audit log</NavLink>
        <NavLink to="/members">Members</NavLink>
        <NavLink to="/secrets">Secrets</NavLink>
        <NavLink to="/connections">Connections</NavLink>
        <NavLink to="/variables">Variables</NavLink>
        <div className="grow" />
        <button onClick={toggle} aria-label={`switch to ${theme === "dark" ? "light" : "dark"} theme`}>
          {theme === "dark" ? "☀ light" : "☾ dark"}
        </button>
      </nav>
      <main>
        <Routes>
          <Route path="/" element={<PipelinesView />} />
          <Route path="/pipelines/:name" element={<PipelineView />} />
          <Route path="/runs" element={<RunsView />} />
          <Route path="/runs/:id" element={<RunView />} />
          <Route path="/artifacts/:id" element={<ArtifactView />} />
          <Route path="/experiments" element={<ExperimentsView />} />
          <Route path="/studies" element={<StudiesView />} />
          <Route path="/studies/:name" element={<StudyView />} />
          <Route path="/models" element={<ModelsView />} />
          <Route path="/models/:name" element={<ModelView />} />
          <Route path="/deployments" element={<DeploymentsView />} />
          <Route path="/deployments/:name" element={<DeploymentView />} />
          <Route path="/compare" element={<CompareView />} />
          <Route path="/schedules" element={<SchedulesView />} />
          <Route path="/assets" element={<AssetsView />} />
          <Route path="/audit" element={<AuditView />} />
          <Route path="/members" element={<MembersView />} />
          <Route path="/secrets" element={<SecretsView />} />
          <Route path="/connections" element={<ConnectionsView />} />
          <Route path="/variables" element={<VariablesView />} />
        </Routes>
      </main>
    </div>
    </AccessProvider>
  );
}
