import { useState, type ReactNode } from "react";

/** A delete button that asks first. */
export function ConfirmDelete({
  what,
  onConfirm,
  disabled,
  title,
  pending,
}: {
  what: string;
  onConfirm: () => void;
  disabled?: boolean;
  title?: string;
  pending?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button className="danger" disabled={disabled} title={title} onClick={() => setAsking(true)} aria-label={`delete ${what}`}>
        delete
      </button>
    );
  return (
    <span className="row" role="group" aria-label={`confirm deleting ${what}`}>
      <span>delete {what}?</span>
      <button
        className="danger"
        disabled={pending}
        onClick={() => {
          onConfirm();
          setAsking(false);
        }}
      >
        yes, delete
      </button>
      <button onClick={() => setAsking(false)}>keep</button>
    </span>
  );
}

/** Why the form below is read-only, when it is. */
export function ReadOnlyNote({ why }: { why: string | undefined }): ReactNode {
  return why ? (
    <p className="muted" role="note">
      read-only: {why}
    </p>
  ) : null;
}
