// Turning a pipeline's parameter specs into form fields and form text back into values.

export interface ParamSpec {
  kind: string;
  type?: { kind: string; optional?: boolean } | null;
  has_default?: boolean;
  default?: unknown;
  description?: string | null;
  constraints?: { minimum?: number | null; maximum?: number | null; enum?: unknown[] | null } | null;
}

export type FieldKind = "number" | "integer" | "text" | "bool" | "choice" | "json";

export function fieldKind(p: ParamSpec): FieldKind {
  if (p.constraints?.enum && p.constraints.enum.length) return "choice";
  switch (p.type?.kind) {
    case "int":
      return "integer";
    case "float":
      return "number";
    case "bool":
      return "bool";
    case "str":
      return "text";
    default:
      return "json";
  }
}

export function initialText(p: ParamSpec): string {
  if (!p.has_default || p.default === null || p.default === undefined) return "";
  return typeof p.default === "string" ? p.default : JSON.stringify(p.default);
}

/** The value to send for ``text`` (undefined: leave the parameter out), or an error. */
export function parseField(p: ParamSpec, text: string): { value?: unknown; error?: string } {
  const kind = fieldKind(p);
  if (text === "" && kind !== "text") {
    if (p.has_default || p.type?.optional) return {};
    return { error: "required" };
  }
  switch (kind) {
    case "integer": {
      const n = Number(text);
      return Number.isInteger(n) ? { value: n } : { error: "a whole number" };
    }
    case "number": {
      const n = Number(text);
      return Number.isFinite(n) ? { value: n } : { error: "a number" };
    }
    case "bool":
      return { value: text === "true" };
    case "text":
      return text === "" && p.has_default ? {} : { value: text };
    case "choice": {
      const found = p.constraints!.enum!.find((v) => String(v) === text);
      return { value: found };
    }
    default:
      try {
        return { value: JSON.parse(text) };
      } catch {
        return { error: "JSON, e.g. [1, 2] or {\"a\": 1}" };
      }
  }
}
