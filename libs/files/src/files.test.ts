import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkAttachments, decodeDataUri, readAttachmentSources } from "./attachments.js";
import { fileNameProblem, workspacePathProblem } from "./names.js";
import { declaredTypeAgrees, sniffMediaType } from "./sniff.js";

const fixture = (name: string) =>
  new Uint8Array(
    readFileSync(fileURLToPath(new URL(`../../../test/fixtures/files/${name}`, import.meta.url))),
  );
const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

describe("media types come from the content", () => {
  it.each([
    ["red-square.png", "image/png"],
    ["memo.pdf", "application/pdf"],
    ["towns.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
    ["towns.csv", "text/csv"],
  ])("%s is %s", (name, type) => {
    expect(sniffMediaType(fixture(name))).toBe(type);
  });

  it("reads other signatures and refuses to call binary text", () => {
    expect(sniffMediaType(bytes("\xff\xd8\xff\xe0rest"))).toBe("image/jpeg");
    expect(sniffMediaType(bytes("GIF89a...."))).toBe("image/gif");
    expect(sniffMediaType(bytes("RIFF\x00\x00\x00\x00WEBPVP8 "))).toBe("image/webp");
    expect(sniffMediaType(bytes('{"a": [1, 2]}'))).toBe("application/json");
    expect(sniffMediaType(bytes("just a line of prose"))).toBe("text/plain");
    expect(sniffMediaType(bytes("\x7fELF\x02\x01\x01\x00"))).toBe("application/octet-stream");
    expect(sniffMediaType(new Uint8Array([0xc3, 0x28]))).toBe("application/octet-stream");
  });

  it("a declared type must agree with the content (text types agree with each other)", () => {
    expect(declaredTypeAgrees("image/png", "application/pdf")).toBe(false);
    expect(declaredTypeAgrees("application/pdf", "application/pdf")).toBe(true);
    expect(declaredTypeAgrees("image/jpg", "image/jpeg")).toBe(true);
    expect(declaredTypeAgrees("text/csv; charset=utf-8", "text/plain")).toBe(true);
    expect(declaredTypeAgrees("text/plain", "image/png")).toBe(false);
    expect(declaredTypeAgrees("application/octet-stream", "image/png")).toBe(true);
  });
});

describe("names", () => {
  it.each([
    ["../etc/passwd", /separator/],
    ["..", /traversal/],
    ["a\\b", /separator/],
    ["CON", /device/],
    ["lpt1.txt", /device/],
    ["bad\u0000name", /control/],
    ["tab\tname", /control/],
    ["rtl\u202egnp.exe", /control|invisible/],
    [".env", /starts with a dot/],
    ["trailing.", /ends with a dot/],
    ["a:b", /one of/],
    ["", /empty/],
    ["x".repeat(129), /longer/],
  ])("%j is refused", (name, reason) => {
    expect(fileNameProblem(name)).toMatch(reason);
  });

  it("ordinary names and nested workspace paths pass", () => {
    expect(fileNameProblem("Quarterly report (final) 2024.pdf")).toBeUndefined();
    expect(fileNameProblem("données.csv")).toBeUndefined();
    expect(workspacePathProblem("downloads/towns.csv")).toBeUndefined();
    expect(workspacePathProblem("/etc/passwd")).toMatch(/absolute/);
    expect(workspacePathProblem("a/../b")).toMatch(/traversal/);
    expect(workspacePathProblem("a/b/c/d/e/f/g/h/i")).toMatch(/deeper/);
  });
});

describe("checkAttachments", () => {
  const pdf = fixture("memo.pdf");
  it("sniffs each file and keeps the name", () => {
    expect(checkAttachments([{ name: "memo.pdf", bytes: pdf, declaredType: "application/pdf" }])).toEqual([
      { name: "memo.pdf", bytes: pdf, mediaType: "application/pdf" },
    ]);
  });

  it.each([
    ["zero bytes", [{ name: "e.txt", bytes: new Uint8Array() }], "ATTACHMENT_EMPTY"],
    ["a lying type", [{ name: "p.png", bytes: pdf, declaredType: "image/png" }], "ATTACHMENT_TYPE_MISMATCH"],
    ["traversal", [{ name: "../p.pdf", bytes: pdf }], "ATTACHMENT_NAME_INVALID"],
    [
      "a name used twice",
      [
        { name: "p.pdf", bytes: pdf },
        { name: "p.pdf", bytes: pdf },
      ],
      "ATTACHMENT_NAME_INVALID",
    ],
    ["too big", [{ name: "big.bin", bytes: new Uint8Array(10 * 1024 * 1024 + 1) }], "ATTACHMENT_TOO_LARGE"],
    [
      "too many",
      Array.from({ length: 17 }, (_, index) => ({ name: `f${index}.pdf`, bytes: pdf })),
      "TOO_MANY_ATTACHMENTS",
    ],
  ])("refuses %s", (_label, inputs, code) => {
    expect(() => checkAttachments(inputs)).toThrow(expect.objectContaining({ code, category: "user" }));
  });

  it("caps the total", () => {
    const chunk = new Uint8Array(9 * 1024 * 1024).fill(1);
    expect(() =>
      checkAttachments([
        { name: "a.bin", bytes: chunk },
        { name: "b.bin", bytes: chunk },
        { name: "c.bin", bytes: chunk },
      ]),
    ).toThrow(
      expect.objectContaining({ code: "ATTACHMENT_TOO_LARGE", message: expect.stringMatching(/add up/) }),
    );
  });
});

describe("sources: paths and data URIs", () => {
  it("decodes an HLE-style data URI and names it from its sniffed type", async () => {
    const png = fixture("red-square.png");
    const uri = `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
    expect(decodeDataUri(uri)?.bytes).toEqual(png);
    const [input] = await readAttachmentSources([uri]);
    expect(input).toMatchObject({ name: "attachment-1.png", declaredType: "image/png" });
    expect(checkAttachments([input!])[0]?.mediaType).toBe("image/png");
  });

  it("reads a path relative to the base folder, by its base name", async () => {
    const baseDir = fileURLToPath(new URL("../../../test/fixtures/", import.meta.url));
    const [input] = await readAttachmentSources(["files/towns.csv"], { baseDir });
    expect(input?.name).toBe("towns.csv");
    await expect(readAttachmentSources(["files/none.csv"], { baseDir })).rejects.toMatchObject({
      code: "ATTACHMENT_INVALID",
    });
    await expect(readAttachmentSources(["data:image/png;base64"])).rejects.toMatchObject({
      code: "ATTACHMENT_INVALID",
    });
  });
});
