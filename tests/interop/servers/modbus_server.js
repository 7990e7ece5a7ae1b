// A Modbus TCP server built on the npm package modbus-serial (ServerTCP), for historian's
// interop tests and benchmarks (127.0.0.1 only).
//
// usage: node modbus_server.js '<json options>'
//   port   TCP port (required)
//   log    a file: one JSON line per request frame received ({"rx": fc, "unit", "tid"}, parsed
//          from the raw bytes before modbus-serial sees them) and per response served
//          ({"fc", "address", "values", "t_ms"})
//   every  ms between changes of the holding registers (default 200)
//   delay  ms before each holding-register response (a slow device; default 0)
//
// Map (unit 1): holding 0..99 change every `every` ms (register i = (k * 7 + i * 13) & 0xffff,
// k the change counter), holding 100..115 a UTF-8 string (32 bytes, big-endian byte order, NUL
// padded, see batchText; logged as "text" with every response that covers it), input 0..9 =
// 1000 + i, coils 0..15 = i odd, discrete 0..15 = i % 3 == 0.
// Anything else is an exception response 2 (illegal data address).
// Prints "ready <port>" on stdout once listening; exits when stdin closes.
"use strict";
const fs = require("fs");
const ModbusRTU = require("modbus-serial");

const opts = JSON.parse(process.argv[2] || "{}");
const log = opts.log ? fs.openSync(opts.log, "a") : null;
function record(obj) {
    if (log !== null) fs.writeSync(log, JSON.stringify(obj) + "\n");
}

let k = 0;
const STR_AT = 100, STR_REGS = 16;
const holding = new Array(STR_AT + STR_REGS).fill(0);
let text = "";
function batchText(n) {  // empty now and then; non-ASCII; never longer than 32 bytes
    return n % 4 === 0 ? "" : `B-${String(n).padStart(5, "0")} \u00e9t\u00e9 \u2603`;
}
function change() {
    k += 1;
    for (let i = 0; i < STR_AT; i++) holding[i] = (k * 7 + i * 13) & 0xffff;
    text = batchText(k);
    const bytes = Buffer.alloc(2 * STR_REGS);
    Buffer.from(text, "utf8").copy(bytes);
    for (let i = 0; i < STR_REGS; i++) holding[STR_AT + i] = bytes.readUInt16BE(2 * i);
}
change();
setInterval(change, opts.every || 200);

function illegal() {
    const err = new Error("illegal data address");
    err.modbusErrorCode = 2;
    return err;
}

function range(address, length, size) {
    if (address < 0 || address + length > size) throw illegal();
}

const vector = {
    getMultipleHoldingRegisters(address, length, unitID, callback) {
        try {
            range(address, length, holding.length);
        } catch (err) {
            callback(err);
            return;
        }
        const answer = () => {
            const values = holding.slice(address, address + length);
            const line = { fc: 3, address, values, t_ms: Date.now() };
            if (address <= STR_AT && address + length >= STR_AT + STR_REGS) line.text = text;
            record(line);
            callback(null, values);
        };
        if (opts.delay) setTimeout(answer, opts.delay);
        else answer();
    },
    getHoldingRegister(address) {
        range(address, 1, holding.length);
        record({ fc: 3, address, values: [holding[address]], t_ms: Date.now() });
        return holding[address];
    },
    getMultipleInputRegisters(address, length) {
        range(address, length, 10);
        const values = Array.from({ length }, (_, i) => 1000 + address + i);
        record({ fc: 4, address, values, t_ms: Date.now() });
        return values;
    },
    getInputRegister(address) {
        range(address, 1, 10);
        record({ fc: 4, address, values: [1000 + address], t_ms: Date.now() });
        return 1000 + address;
    },
    getCoil(address) {
        range(address, 1, 16);
        record({ fc: 1, address, values: [address % 2 === 1] });
        return address % 2 === 1;
    },
    getDiscreteInput(address) {
        range(address, 1, 16);
        record({ fc: 2, address, values: [address % 3 === 0] });
        return address % 3 === 0;
    },
    setRegister(address) {  // never expected: logged by the raw frame parser, then refused
        throw illegal();
    },
    setCoil(address) {
        throw illegal();
    },
};

const server = new ModbusRTU.ServerTCP(vector, { host: "127.0.0.1", port: opts.port, unitID: 1 });
server._server.on("connection", (sock) => {
    let buf = Buffer.alloc(0);
    sock.on("data", (data) => {  // every frame, whatever modbus-serial makes of it
        buf = Buffer.concat([buf, data]);
        while (buf.length >= 8) {
            const len = buf.readUInt16BE(4);
            if (buf.length < 6 + len) break;
            record({ rx: buf[7], unit: buf[6], tid: buf.readUInt16BE(0) });
            buf = buf.subarray(6 + len);
        }
    });
});
server.on("initialized", () => process.stdout.write(`ready ${opts.port}\n`));
server.on("serverError", (err) => {
    process.stderr.write(`modbus_server: ${err}\n`);
    process.exit(1);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
