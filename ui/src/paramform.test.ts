import { fieldKind, initialText, parseField, type ParamSpec } from "./paramform";

const int: ParamSpec = { kind: "parameter", type: { kind: "int" }, has_default: true, default: 3 };
const req: ParamSpec = { kind: "parameter", type: { kind: "float" }, has_default: false };
const choice: ParamSpec = { kind: "parameter", type: { kind: "str" }, has_default: true, default: "a", constraints: { enum: ["a", "b"] } };
const list: ParamSpec = { kind: "parameter", type: { kind: "list" }, has_default: true, default: [1, 2] };

test("field kinds follow the parameter's type", () => {
  expect([int, req, choice, list].map(fieldKind)).toEqual(["integer", "number", "choice", "json"]);
});

test("defaults fill the form, values parse back", () => {
  expect(initialText(int)).toBe("3");
  expect(initialText(list)).toBe("[1,2]");
  expect(parseField(int, "7")).toEqual({ value: 7 });
  expect(parseField(int, "7.5").error).toBe("a whole number");
  expect(parseField(req, "").error).toBe("required");
  expect(parseField(int, "")).toEqual({});
  expect(parseField(choice, "b")).toEqual({ value: "b" });
  expect(parseField(list, "[3]")).toEqual({ value: [3] });
  expect(parseField(list, "[3").error).toMatch(/JSON/);
});
