/* The live page's sounds, as the panel's buzzer on a real plate: a short bright double beep for a thump, a low
   buzz for too soft. Web Audio, nothing downloaded. Off until someone turns it on (browsers play nothing before
   a tap); the choice is remembered on this device (localStorage). Every sound scheduled is logged in
   ``log`` (kind, rep key, time) so a test can check what was played, and that off means silent. */
(function () {
  "use strict";

  var KEY = "forceplate.sound";
  var TONES = {
    thump: [{ f: 880, start: 0, dur: 0.09 }, { f: 1320, start: 0.12, dur: 0.12 }],
    soft: [{ f: 220, start: 0, dur: 0.28 }]
  };
  var ctx = null;
  var log = [];
  var on = false;
  try { on = window.localStorage.getItem(KEY) === "on"; } catch (e) { on = false; }

  function context() {
    if (ctx === null) {
      var AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) { return null; }
      ctx = new AC();
    }
    if (ctx.state === "suspended" && ctx.resume) { ctx.resume().catch(function () {}); }
    return ctx;
  }

  function play(kind, key) {
    if (!on || !TONES[kind]) { return false; }
    var ac = context();
    log.push({ kind: kind, key: key == null ? null : key, at: Date.now() });
    if (log.length > 200) { log.shift(); }
    if (!ac) { return true; }
    var now = ac.currentTime + 0.01;
    TONES[kind].forEach(function (tone) {
      var osc = ac.createOscillator(), gain = ac.createGain();
      osc.type = kind === "soft" ? "square" : "sine";
      osc.frequency.value = tone.f;
      gain.gain.setValueAtTime(0.0001, now + tone.start);
      gain.gain.exponentialRampToValueAtTime(0.25, now + tone.start + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + tone.start + tone.dur);
      osc.connect(gain); gain.connect(ac.destination);
      osc.start(now + tone.start); osc.stop(now + tone.start + tone.dur + 0.02);
    });
    return true;
  }

  function setOn(value) {
    on = !!value;
    try { window.localStorage.setItem(KEY, on ? "on" : "off"); } catch (e) { /* private mode: this page only */ }
    if (on) { context(); }      // inside the tap that turned it on: the browser lets it play from now on
  }

  window.forceplateSound = { play: play, setOn: setOn, isOn: function () { return on; }, log: log };
}());
