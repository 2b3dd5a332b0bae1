// The worked example of docs/key-exchange.md ("Example"), recomputed: if the
// wire format or the key derivation changes, this fails until the document
// is updated with it.
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../controlplane/exchange/address.js';
import {
  decodeAgreement, decodeChallenge, decodeKnock, decodeProposal, decodeSpiPayload,
  encodeAgreement, encodeChallenge, encodeKnock, encodeProposal, encodeSpiPayload,
} from '../controlplane/exchange/messages.js';
import { HandshakeState } from '../controlplane/exchange/noise.js';
import { PROTOCOL_VERSION, negotiatedPair, prologue } from '../controlplane/exchange/protocol.js';
import { RouteSpi, Spi } from '../controlplane/exchange/types.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Inputs (as in the document).
const psk = h('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const routeSpi = RouteSpi(1001);
const cookie = h('c0c1c2c3c4c5c6c7c8c9cacbcccdcecf');
const tag = h('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf');
const initiatorEphemeral = h('893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a');
const responderEphemeral = h('bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b');
const initiatorSpi = 0x11223344;
const responderSpi = 0x55667788;

// Outputs (as in the document).
const expected = {
  prologue: h(`01 01 000003e9 00000000000000000000ffffc0000201 00000000000000000000ffffc6336402
    c0c1c2c3c4c5c6c7c8c9cacbcccdcecf a0a1a2a3a4a5a6a7a8a9aaabacadaeaf`),
  knock: h('000003e9 0b000000 01000000 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf 00000000000000000000000000000000'),
  challenge: h('000003e9 0c000000 01010000 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf a0a1a2a3a4a5a6a7a8a9aaabacadaeaf'),
  proposal: h(`000003e9 0d000000 01010000 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
    ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944 969dfb7e 01144cf62a75c0f619cfd1dc3d7f5783`),
  agreement: h(`000003e9 0e000000
    95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843 4ebeee0a 7a0542320d0e98fb6553048c0ddca8f0`),
  handshakeHash: h('1c261c0a4acda4914cc29e37d42ea59af1151079d4fe87ff0361221facc1402b'),
  initiatorToResponder: h('12e49ea04cd0c78a3e5b6de08428ea75 a3d0f0cc'),
  responderToInitiator: h('b0e254e4706afd012b48108bd2d395b7 eee540f6'),
};

describe('docs/key-exchange.md example', () => {
  it('reproduces every message and both directions\' ESP key ‖ salt', () => {
    const nonce = Buffer.concat([cookie, tag]);
    const pro = prologue({
      version: PROTOCOL_VERSION, aead: 'aes-gcm-16-icv', routeSpi,
      initiatorAddress: parseAddress('192.0.2.1')!, responderAddress: parseAddress('198.51.100.2')!, nonce,
    });
    expect(pro.toString('hex')).toBe(expected.prologue.toString('hex'));
    expect(encodeKnock(routeSpi, { cookie }).toString('hex')).toBe(expected.knock.toString('hex'));
    expect(encodeChallenge(routeSpi, 'aes-gcm-16-icv', nonce).toString('hex')).toBe(expected.challenge.toString('hex'));

    const i = new HandshakeState({ pattern: 'NNpsk0', initiator: true, prologue: pro, psk, ephemeral: initiatorEphemeral });
    const r = new HandshakeState({ pattern: 'NNpsk0', initiator: false, prologue: pro, psk, ephemeral: responderEphemeral });
    const m1 = i.writeMessage(encodeSpiPayload(initiatorSpi));
    expect(encodeProposal(routeSpi, 'aes-gcm-16-icv', nonce, m1).toString('hex')).toBe(expected.proposal.toString('hex'));
    expect(decodeSpiPayload(r.readMessage(m1))).toBe(initiatorSpi);
    const m2 = r.writeMessage(encodeSpiPayload(responderSpi));
    expect(encodeAgreement(routeSpi, m2).toString('hex')).toBe(expected.agreement.toString('hex'));
    expect(decodeSpiPayload(i.readMessage(m2))).toBe(responderSpi);
    expect(i.handshakeHash().toString('hex')).toBe(expected.handshakeHash.toString('hex'));

    const atInitiator = negotiatedPair(i, 'initiator', 'aes-gcm-16-icv', Spi(initiatorSpi), Spi(responderSpi));
    const atResponder = negotiatedPair(r, 'responder', 'aes-gcm-16-icv', Spi(responderSpi), Spi(initiatorSpi));
    // Initiator → responder: SPI 0x55667788 (the responder's), and back: 0x11223344.
    expect(atInitiator.outbound).toEqual({ spi: responderSpi, keymat: expected.initiatorToResponder });
    expect(atResponder.inbound).toEqual({ spi: responderSpi, keymat: expected.initiatorToResponder });
    expect(atResponder.outbound).toEqual({ spi: initiatorSpi, keymat: expected.responderToInitiator });
    expect(atInitiator.inbound).toEqual({ spi: initiatorSpi, keymat: expected.responderToInitiator });
  });

  it('decodes its own messages', () => {
    expect(decodeKnock(expected.knock)).toEqual({ ok: true, msg: { cookie } });
    expect(decodeChallenge(expected.challenge)).toEqual({ ok: true, msg: { aeadId: 1, nonce: Buffer.concat([cookie, tag]) } });
    const p = decodeProposal(expected.proposal);
    expect(p.ok && p.msg.noise.length).toBe(52);
    const a = decodeAgreement(expected.agreement);
    expect(a.ok && a.msg.noise.length).toBe(52);
  });
});
