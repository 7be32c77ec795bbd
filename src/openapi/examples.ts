// Request examples taken from the source documents, as they show them.

export const EXAMPLES = {
  bridgeLogin: {
    summary: 'Document 003',
    value: {
      clientId: 'bridge-api-client',
      clientSecret: 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709',
    },
  },
  yativoLogin: {
    summary: 'Document 002',
    value: { account_id: 'account_id', app_secret: 'app_secret' },
  },
  tokeninfo: {
    token: 'eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6ImF0K2p3dCJ9...',
    token_type_hint: 'access_token',
  },
  services001: {
    summary: "Document 001's example",
    value: {
      provider_id: 1001,
      service_token: '3f2b8c1e-8d4a-4c1e-9b7a-2f6d5e4c3b2a',
      service_id: 1,
      parameters: {
        destination: 'paciente-42',
        notification: {
          titulo: 'Clínica Dr. Nano. Turno',
          mensaje: 'Oftalmologo Lunes 29-10 a las 9:15Hs.',
          canal: 'SMS',
        },
        advertisement: {
          titulo: 'Autos usados CHECHO',
          mensaje: 'Lleve su auto usado con Financiameiento ...',
          canal: 'FCM',
        },
      },
    },
  },
  servicesTicket: {
    summary: 'A ticket as a QR code',
    value: {
      provider_id: 1001,
      service_token: '3f2b8c1e-8d4a-4c1e-9b7a-2f6d5e4c3b2a',
      service_id: 1,
      parameters: {
        destination: 'paciente-42',
        notification: {
          title: 'Clínica Dr. Nano. Turno',
          message: 'Oftalmólogo lunes 29-10, 9:15. Muestre este código.',
          channel: 'FCM',
        },
        qr_code: {
          content: 'TURNO-2026-000042',
          label: 'Turno 42, consultorio 3',
          expires_at: '2026-12-31T23:59:59Z',
        },
      },
    },
  },
}
