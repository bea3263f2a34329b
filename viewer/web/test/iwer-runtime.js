// Test-only (tests/test_serve_browser.py injects it before the page loads; never shipped): Meta's
// WebXR emulator as the browser's WebXR runtime, an emulated Quest 3 the test poses by hand.
// Chromium has a native navigator.xr (with no headset), hence forceInstall.
import { XRDevice, metaQuest3 } from "iwer";

const device = new XRDevice(metaQuest3);
device.stereoEnabled = true; // two eyes side by side in the canvas
device.installRuntime({ forceInstall: true });
window.__iwerDevice = device;
