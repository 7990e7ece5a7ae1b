// A node-opcua server for historian's interop tests and benchmarks (127.0.0.1 only).
//
// usage: node opcua_server.js '<json options>'
//   port      TCP port (required; 127.0.0.1)
//   cert, key server certificate and private key (PEM), e.g. from historian's pki.make_pki
//   uri       the server's ApplicationUri (the certificate's SAN URI)
//   pki       folder for node-opcua's certificate manager
//   issuers   DER certificates of the CAs whose client certificates are trusted
//   crls      DER revocation lists of those CAs (node-opcua requires one per CA)
//   trust     DER client certificates to trust (nothing else is accepted)
//   user, password  the one user allowed (anonymous refused); absent: SecurityPolicy None
//   log       a file: one JSON line per value the server serves
//             {"node", "value", "type", "status", "t_ms"[, "text"]} (text: the String, the
//             LocalizedText's text, or the enumeration's label)
//   vars, hz  also N Double variables V00000.. changing hz times a second (benchmarks)
//
// Prints "ready <port>" on stdout once listening. Exits when stdin closes (its parent died).
"use strict";
// stdout carries the "ready" line only: node-opcua's own messages go to stderr
const util = require("util");
for (const name of ["log", "info", "debug"]) {
    console[name] = (...args) => process.stderr.write(util.format(...args) + "\n");
}
const fs = require("fs");
const path = require("path");
const {
    OPCUAServer, OPCUACertificateManager, Variant, DataType, StatusCodes, SecurityPolicy,
    MessageSecurityMode, DataValue,
} = require("node-opcua");

const opts = JSON.parse(process.argv[2] || "{}");
const NS = "urn:historian:interop";
const log = opts.log ? fs.openSync(opts.log, "a") : null;

function served(node, value, type, status, t, text) {
    if (log === null) return;
    const line = { node, value, type, status: status.value >>> 0, t_ms: t.getTime() };
    if (text !== undefined) line.text = text;
    fs.writeSync(log, JSON.stringify(line) + "\n");
}

async function main() {
    const secure = Boolean(opts.user);
    const certificateManager = new OPCUACertificateManager({
        rootFolder: opts.pki || path.join(__dirname, ".pki"),
        automaticallyAcceptUnknownCertificate: false,
    });
    await certificateManager.initialize();
    for (const file of opts.issuers || []) {
        await certificateManager.addIssuer(fs.readFileSync(file), false, true);
    }
    for (const file of opts.crls || []) {
        await certificateManager.addRevocationList(fs.readFileSync(file), "issuers");
    }
    for (const file of opts.trust || []) {
        await certificateManager.trustCertificate(fs.readFileSync(file));
    }
    const server = new OPCUAServer({
        port: opts.port,
        hostname: "127.0.0.1",
        resourcePath: "/interop",
        serverCertificateManager: certificateManager,
        certificateFile: opts.cert,
        privateKeyFile: opts.key,
        serverInfo: { applicationUri: opts.uri || "urn:historian:interop:server",
                      productUri: "urn:historian:interop" },
        securityPolicies: secure ? [SecurityPolicy.Basic256Sha256] : [SecurityPolicy.None],
        securityModes: secure ? [MessageSecurityMode.SignAndEncrypt] : [MessageSecurityMode.None],
        allowAnonymous: !secure,
        userManager: {
            isValidUser: (user, password) => user === opts.user && password === opts.password,
        },
        serverCapabilities: { maxSessions: 20 },
        maxConnectionsPerEndpoint: 20,
        isAuditing: false,
    });
    await server.initialize();
    const space = server.engine.addressSpace;
    const ns = space.registerNamespace(NS);
    const folder = ns.addObject({ organizedBy: space.rootFolder.objects, browseName: "Interop" });
    const vars = {};
    function variable(name, dataType, value) {
        vars[name] = ns.addVariable({
            componentOf: folder, browseName: name, nodeId: `s=${name}`,
            dataType, value: { dataType, value },
        });
        return vars[name];
    }
    variable("Good.Counter", "Double", 0);
    variable("Good.Int32", "Int32", 0);
    variable("Good.Float", "Float", 0);
    variable("Good.Bool", "Boolean", false);
    variable("Bad.Sensor", "Double", 0);
    variable("Uncertain.Sensor", "Double", 0);
    const kinds = {
        "Good.Counter": [DataType.Double, (k) => k + 0.25, StatusCodes.Good],
        "Good.Int32": [DataType.Int32, (k) => -1000 * k, StatusCodes.Good],
        "Good.Float": [DataType.Float, (k) => k / 4, StatusCodes.Good],
        "Good.Bool": [DataType.Boolean, (k) => k % 2 === 1, StatusCodes.Good],
        "Bad.Sensor": [DataType.Double, (k) => k, StatusCodes.BadSensorFailure],
        "Uncertain.Sensor": [DataType.Double, (k) => 2 * k, StatusCodes.UncertainLastUsableValue],
    };
    // Texts: a String (unicode, control characters, sometimes empty), a LocalizedText and an
    // enumeration DataType (Int32 on the wire, its labels in EnumStrings).
    const LABELS = ["Idle", "Running", "Stopped"];
    const stateType = ns.addEnumerationType({ browseName: "MachineState", enumeration: LABELS });
    variable("Text.Batch", "String", "");
    variable("Text.Recipe", "LocalizedText", { text: "", locale: "en" });
    vars["Text.State"] = ns.addVariable({
        componentOf: folder, browseName: "Text.State", nodeId: "s=Text.State",
        dataType: stateType, value: { dataType: DataType.Int32, value: 0 },
    });
    function batchText(k) {
        return k % 5 === 0 ? "" : `B-${String(k).padStart(4, "0")} \u00e9t\u00e9\t\u2603`;
    }
    let k = 0;
    function tick() {
        k += 1;
        const t = new Date();
        for (const [name, [dataType, fn, status]] of Object.entries(kinds)) {
            const value = fn(k);
            vars[name].setValueFromSource(new Variant({ dataType, value }), status, t);
            served(name, value, DataType[dataType], status, t);
        }
        const batch = batchText(k);
        vars["Text.Batch"].setValueFromSource(new Variant({ dataType: DataType.String,
            value: batch }), StatusCodes.Good, t);
        served("Text.Batch", null, "String", StatusCodes.Good, t, batch);
        const recipe = `Rezept ${k}`;
        vars["Text.Recipe"].setValueFromSource(new Variant({ dataType: DataType.LocalizedText,
            value: { text: recipe, locale: "de" } }), StatusCodes.Good, t);
        served("Text.Recipe", null, "LocalizedText", StatusCodes.Good, t, recipe);
        vars["Text.State"].setValueFromSource(new Variant({ dataType: DataType.Int32,
            value: k % 3 }), StatusCodes.Good, t);
        served("Text.State", k % 3, "Enumeration", StatusCodes.Good, t, LABELS[k % 3]);
    }
    tick();
    setInterval(tick, 100);
    const n = opts.vars || 0;
    if (n > 0) {
        const bench = [];
        for (let i = 0; i < n; i++) {
            const name = `V${String(i).padStart(5, "0")}`;
            bench.push(ns.addVariable({
                componentOf: folder, browseName: name, nodeId: `s=${name}`, dataType: "Double",
                value: { dataType: DataType.Double, value: 0 },
            }));
        }
        let j = 0;
        setInterval(() => {
            j += 1;
            const t = new Date();
            for (const v of bench) {
                v.setValueFromSource(new Variant({ dataType: DataType.Double, value: j }),
                                     StatusCodes.Good, t);
            }
        }, 1000 / (opts.hz || 10));
    }
    // An asset hierarchy for historian's asset import (tests/assets): Plant and Area1 are
    // folders (Organizes), Pump1/Pump2 objects of type PumpType (HasComponent) holding
    // AnalogItems with EURange and EngineeringUnits (UNECE codes, OPC UA Part 8).
    const { standardUnits } = require("node-opcua");
    const pumpType = ns.addObjectType({ browseName: "PumpType" });
    const plant = ns.addFolder(space.rootFolder.objects, { browseName: "Plant" });
    const area = ns.addFolder(plant, { browseName: "Area1" });
    for (const [pumpName, flowHigh] of [["Pump1", 120], ["Pump2", 200]]) {
        const pump = ns.addObject({ componentOf: area, browseName: pumpName,
                                    typeDefinition: pumpType });
        const items = [["Flow", standardUnits.cubic_metre_per_hour, 0, flowHigh],
                       ["Speed", standardUnits.revolutions_per_minute, 0, 3000],
                       ["Bearing Temp", standardUnits.degree_celsius, -20, 150]];
        for (const [item, units, low, high] of items) {
            ns.addAnalogDataItem({
                componentOf: pump, browseName: item, nodeId: `s=Plant.Area1.${pumpName}.${item}`,
                dataType: "Double", engineeringUnitsRange: { low, high }, engineeringUnits: units,
                description: `${item} of ${pumpName}`,
                value: new Variant({ dataType: DataType.Double, value: 0 }),
            });
        }
    }
    await server.start();
    process.stdout.write(`ready ${server.endpoints[0].port}\n`);
    process.stdin.on("end", () => process.exit(0));
    process.stdin.resume();
}

main().catch((err) => {
    process.stderr.write(`opcua_server: ${err && err.stack || err}\n`);
    process.exit(1);
});
