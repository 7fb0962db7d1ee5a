import { describe, expect, it } from "vitest";
import { connectionBody, parseVariableValue } from "./Settings";

describe("the settings forms", () => {
  it("read a variable's value as JSON, else as text", () => {
    expect(parseVariableValue("42")).toBe(42);
    expect(parseVariableValue('{"a": [1]}')).toEqual({ a: [1] });
    expect(parseVariableValue("hello world")).toBe("hello world");
  });
  it("send only the connection fields given, the port as a number, the password untrimmed", () => {
    expect(connectionBody({ name: " wh ", uri: "", type: "postgres", port: "5432", password: " p w " })).toEqual({
      name: "wh",
      type: "postgres",
      port: 5432,
      password: " p w ",
    });
  });
});
