import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useAccess } from "../access";
import { api, call } from "../api/client";
import { Empty, ErrorBox } from "../components/Empty";
import { ConfirmDelete, ReadOnlyNote } from "../components/Guarded";
import { when } from "../components/Status";

const MEMBER_ROLES = ["viewer", "editor", "admin"];

/** The members of the current namespace; admins add, change and remove them. */
export function MembersView() {
  const { namespace, may, why } = useAccess();
  const client = useQueryClient();
  const q = useQuery({ queryKey: ["members"], queryFn: () => call(api.GET("/api/v1/members")) });
  const [user, setUser] = useState("");
  const [role, setRole] = useState("editor");
  const done = () => client.invalidateQueries({ queryKey: ["members"] });
  const put = useMutation({
    mutationFn: (m: { user: string; role: string }) =>
      call(api.PUT("/api/v1/members/{user}", { params: { path: { user: m.user } }, body: { role: m.role } })),
    onSuccess: () => {
      setUser("");
      void done();
    },
  });
  const remove = useMutation({
    mutationFn: (name: string) => call(api.DELETE("/api/v1/members/{user}", { params: { path: { user: name } } })),
    onSuccess: done,
  });
  const allowed = may("members");
  const reason = why("members");
  return (
    <>
      <h1>Members of {namespace}</h1>
      <ReadOnlyNote why={reason} />
      <ErrorBox error={q.error ?? put.error ?? remove.error} />
      <form
        className="inline card"
        aria-label="add a member"
        onSubmit={(e) => {
          e.preventDefault();
          put.mutate({ user: user.trim(), role });
        }}
      >
        <label>
          user
          <input value={user} onChange={(e) => setUser(e.target.value)} placeholder="user name" disabled={!allowed} />
        </label>
        <label>
          role
          <select value={role} onChange={(e) => setRole(e.target.value)} disabled={!allowed} aria-label="new member's role">
            {MEMBER_ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button className="primary" type="submit" disabled={!allowed || !user.trim() || put.isPending} title={reason}>
          add member
        </button>
      </form>
      {q.data && q.data.length === 0 ? (
        <Empty title="No members yet">Server owners work here without being members; add people above.</Empty>
      ) : (
        <table className="data" aria-label="members">
          <thead>
            <tr>
              <th>user</th>
              <th>role</th>
              <th>since</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {q.data?.map((m) => (
              <tr key={m.user}>
                <td>{m.user}</td>
                <td>
                  <select
                    value={m.role}
                    aria-label={`role of ${m.user}`}
                    disabled={!allowed || put.isPending}
                    title={reason}
                    onChange={(e) => put.mutate({ user: m.user, role: e.target.value })}
                  >
                    {MEMBER_ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td>{when(m.created_at)}</td>
                <td>
                  <ConfirmDelete
                    what={`member ${m.user}`}
                    disabled={!allowed}
                    title={reason}
                    pending={remove.isPending}
                    onConfirm={() => remove.mutate(m.user)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
