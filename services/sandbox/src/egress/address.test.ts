import { describe, expect, it } from "vitest";
import { classifyAddress } from "./address.js";

describe("classifyAddress", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["10.9.8.7", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.1", "private"],
    ["169.254.169.254", "cloud-metadata"],
    ["169.254.3.4", "link-local"],
    ["100.100.100.100", "shared-address"],
    ["0.0.0.0", "unspecified"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:a00:1", "private"],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["2002:a00:1::1", "private"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"],
    ["2001:db8::1", "documentation"],
    ["100::1", "reserved-ipv6"],
    ["fd00::1", "private"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["fec0::1", "private"],
    ["ff02::1", "multicast"],
    ["[::1]", "loopback"],
    ["not-an-address", "not an address"],
  ])("%s is internal (%s)", (address, reason) => {
    expect(classifyAddress(address)).toBe(reason);
  });

  // A mapped public address is refused too: a resolver has no reason to answer with one.
  it("::ffff:8.8.8.8 is refused", () => {
    expect(classifyAddress("::ffff:8.8.8.8")).toBe("reserved-ipv6");
  });

  it.each(["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2a00:1450:4001:82a::200e"])(
    "%s is public",
    (address) => {
      expect(classifyAddress(address)).toBeUndefined();
    },
  );
});
