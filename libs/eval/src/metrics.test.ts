import { describe, expect, it } from "vitest";
import {
  formatInterval,
  meanPartScores,
  partScores,
  partVerdictCorrect,
  proportion,
  rmsCalibrationError,
  spread,
} from "./metrics.js";

// Expected values below were computed by hand from the formulas (see metrics.ts), not by the code.
describe("proportion", () => {
  it("n = 0 has no accuracy and no interval", () => {
    expect(proportion(0, 0)).toEqual({ correct: 0, total: 0, accuracy: null, wald: null, wilson: null });
  });

  it("48 of 100: Wald ± 9.79 points, Wilson [38.46, 57.68]", () => {
    const p = proportion(48, 100);
    expect(p.accuracy).toBe(48);
    expect(p.wald?.halfWidth).toBeCloseTo(9.792, 2);
    expect(p.wald?.low).toBeCloseTo(38.208, 2);
    expect(p.wilson?.low).toBeCloseTo(38.46, 1);
    expect(p.wilson?.high).toBeCloseTo(57.68, 1);
  });

  it("all right: Wald collapses to [100, 100], Wilson stays honest at [72.25, 100]", () => {
    const p = proportion(10, 10);
    expect(p.wald).toMatchObject({ value: 100, low: 100, high: 100, halfWidth: 0 });
    expect(p.wilson?.low).toBeCloseTo(72.25, 1);
    expect(p.wilson?.high).toBeCloseTo(100, 6);
  });

  it("all wrong: Wilson [0, 27.75]", () => {
    const p = proportion(0, 10);
    expect(p.accuracy).toBe(0);
    expect(p.wald).toMatchObject({ low: 0, high: 0 });
    expect(p.wilson?.low).toBe(0);
    expect(p.wilson?.high).toBeCloseTo(27.75, 1);
  });

  it("refuses impossible counts", () => {
    expect(() => proportion(3, 2)).toThrow(RangeError);
    expect(() => proportion(-1, 2)).toThrow(RangeError);
    expect(() => proportion(0.5, 2)).toThrow(RangeError);
  });

  it("formats as value ± half-width", () => {
    expect(formatInterval(proportion(48, 100).wald)).toBe("48.00 ± 9.79");
    expect(formatInterval(null)).toBe("n/a");
  });
});

describe("rmsCalibrationError", () => {
  it("is null without points", () => {
    expect(rmsCalibrationError([])).toBeNull();
  });

  it("fewer items than a bin make one bin (the original crashed here)", () => {
    const points = [
      { confidence: 1, correct: true },
      { confidence: 1, correct: false },
      { confidence: 1, correct: true },
    ];
    // one bin: mean confidence 1, mean correct 2/3 → √((1/3)²) = 33.33%
    expect(rmsCalibrationError(points)).toBeCloseTo(33.333, 2);
  });

  it("counts the last bin, which takes the remainder", () => {
    // sorted confidences .1 .2 | .8 .9 1.0 with binSize 2 → bins [.1,.2] and [.8,.9,1.0]
    const points = [
      { confidence: 0.9, correct: true },
      { confidence: 0.1, correct: false },
      { confidence: 1.0, correct: false },
      { confidence: 0.2, correct: true },
      { confidence: 0.8, correct: true },
    ];
    // bin 1: conf .15, correct .5 → (2/5)(.35)² = .049; bin 2: conf .9, correct 2/3 → (3/5)(.2333…)² = .032667
    // √(.081667) = .285774 → 28.58%
    expect(rmsCalibrationError(points, 2)).toBeCloseTo(28.577, 2);
  });

  it("perfect calibration is 0", () => {
    expect(
      rmsCalibrationError(
        [
          { confidence: 1, correct: true },
          { confidence: 0, correct: false },
        ],
        1,
      ),
    ).toBe(0);
  });
});

describe("DeepSearchQA part scores", () => {
  it("one found, one missed, one extra → P = R = F1 = 0.5, wrong", () => {
    const verdict = { parts: { Paris: true, Lyon: false }, excessive: ["Nice"] };
    expect(partScores(verdict)).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5 });
    expect(partVerdictCorrect(verdict)).toBe(false);
  });

  it("all found and nothing extra is right; an extra answer makes it wrong", () => {
    expect(partVerdictCorrect({ parts: { a: true, b: true }, excessive: [] })).toBe(true);
    expect(partVerdictCorrect({ parts: { a: true, b: true }, excessive: ["c"] })).toBe(false);
  });

  it("means over all items; a missing verdict scores 0", () => {
    const mean = meanPartScores([{ parts: { a: true }, excessive: [] }, undefined]);
    expect(mean).toEqual({ precision: 50, recall: 50, f1: 50 });
    expect(meanPartScores([])).toBeNull();
  });
});

describe("spread across runs", () => {
  it("mean and sample sd", () => {
    // 47, 48, 49 → mean 48, sd 1
    expect(spread([47, 48, 49])).toEqual({ mean: 48, sd: 1, min: 47, max: 49, runs: 3 });
    expect(spread([50])).toMatchObject({ mean: 50, sd: 0 });
    expect(spread([])).toBeNull();
  });
});
