/**
 * The mock bank's data: per username, a current account, a savings account and a credit card with
 * years of realistic history. Every calendar day's transactions come from a generator seeded by the
 * username and the day, and balances run forward from a fixed start date, so the same user sees the
 * same accounts and history on every run. History is generated lazily, per user, only as far as the
 * clock has reached.
 */
import { hashSeed, SeededRandom, stableHex, stableUuid } from './random';

const dayMs = 86_400_000;
/** Balances run forward from here; days before it do not exist in the mock bank. */
const ledgerStartMs = Date.UTC(2021, 0, 1);
/** What the Data API serves: two years back from the clock. */
export const historyWindowMs = 730 * dayMs;

export const mockProvider = {
  provider_id: 'mock',
  display_name: 'Mock',
  logo_uri: 'https://truelayer-provider-assets.s3.amazonaws.com/global/logos/mock.svg',
} as const;

export type TransactionCategory =
  | 'ATM'
  | 'BILL_PAYMENT'
  | 'CASH'
  | 'CASHBACK'
  | 'CHEQUE'
  | 'CORRECTION'
  | 'CREDIT'
  | 'DIRECT_DEBIT'
  | 'DIVIDEND'
  | 'FEE_CHARGE'
  | 'INTEREST'
  | 'OTHER'
  | 'PURCHASE'
  | 'STANDING_ORDER'
  | 'TRANSFER'
  | 'DEBIT'
  | 'UNKNOWN';

/** TrueLayer's data carries three timestamp shapes; the mock bank uses all of them so parsers get exercised. */
type TimestampStyle = 'plain' | 'offset' | 'zulu';

interface LedgerEntry {
  /** When the bank posted it: the order of the ledger and of running balances. */
  at: number;
  /** Card purchases are authorised first and posted a day or two later; pending in between. */
  authorisedAt?: number;
  style: TimestampStyle;
  /** Pence, signed as the API shows it: negative debits on accounts, positive debits on cards. */
  amount: number;
  description: string;
  category: TransactionCategory;
  classification: string[];
  merchant?: string;
  providerCategory: string;
  reference?: string;
  location?: string;
  seq: number;
  /** The settled JSON never changes once posted (running balances only grow forward), so it is built once. */
  json?: Json;
}

type NewEntry = Omit<LedgerEntry, 'seq' | 'json'>;

export type AccountKind = 'current' | 'savings' | 'card';

interface Ledger {
  id: string;
  kind: AccountKind;
  openingPence: number;
  entries: LedgerEntry[];
}

interface Profile {
  fullName: string;
  email: string;
  phone: string;
  employer: string;
  salaryPence: number;
  rentPence: number;
  landlord: string;
  savingsPence: number;
  councilTaxPence: number;
  gymPence: number;
  mobilePence: number;
  broadbandPence: number;
  energyBasePence: number;
  targetPence: number;
  creditLimitPence: number;
  sortCode: string;
  currentNumber: string;
  savingsNumber: string;
  cardFirst4: string;
  cardLast4: string;
  providerAccountId: string;
  council: string;
}

interface Merchant {
  description: string;
  merchant: string;
  classification: [string, string];
  minPence: number;
  maxPence: number;
  weight: number;
  location?: string;
}

const debitCardMerchants: Merchant[] = [
  {
    description: 'TESCO STORES 3297',
    merchant: 'Tesco',
    classification: ['Shopping', 'Groceries'],
    minPence: 650,
    maxPence: 7400,
    weight: 6,
  },
  {
    description: 'SAINSBURYS SMRKT STORE 128',
    merchant: 'Sainsburys',
    classification: ['Shopping', 'Groceries'],
    minPence: 900,
    maxPence: 6800,
    weight: 4,
  },
  { description: 'LIDL GB LONDON', merchant: 'Lidl', classification: ['Shopping', 'Groceries'], minPence: 700, maxPence: 4500, weight: 3 },
  {
    description: 'WAITROSE 0412',
    merchant: 'Waitrose',
    classification: ['Shopping', 'Groceries'],
    minPence: 1200,
    maxPence: 6500,
    weight: 1,
  },
  {
    description: 'PRET A MANGER',
    merchant: 'Pret A Manger',
    classification: ['Food & Dining', 'Coffee shops'],
    minPence: 250,
    maxPence: 1100,
    weight: 5,
  },
  {
    description: 'COSTA COFFEE 43010',
    merchant: 'Costa Coffee',
    classification: ['Food & Dining', 'Coffee shops'],
    minPence: 260,
    maxPence: 900,
    weight: 3,
  },
  {
    description: 'TFL TRAVEL CHARGE',
    merchant: 'Transport for London',
    classification: ['Auto & Transport', 'Public transport'],
    minPence: 280,
    maxPence: 810,
    weight: 5,
  },
  {
    description: 'UBER *TRIP HELP.UBER.COM',
    merchant: 'Uber',
    classification: ['Auto & Transport', 'Taxi'],
    minPence: 700,
    maxPence: 2900,
    weight: 2,
  },
  {
    description: 'DELIVEROO',
    merchant: 'Deliveroo',
    classification: ['Food & Dining', 'Restaurants'],
    minPence: 1400,
    maxPence: 3800,
    weight: 2,
  },
  {
    description: 'NANDOS CHICKENLAND',
    merchant: "Nando's",
    classification: ['Food & Dining', 'Restaurants'],
    minPence: 1200,
    maxPence: 4600,
    weight: 1,
  },
  {
    description: 'AMAZON.CO.UK*2K4RT5',
    merchant: 'Amazon',
    classification: ['Shopping', 'General'],
    minPence: 599,
    maxPence: 7900,
    weight: 3,
  },
  {
    description: 'BOOTS 1159',
    merchant: 'Boots',
    classification: ['Health & Fitness', 'Pharmacy'],
    minPence: 300,
    maxPence: 3200,
    weight: 2,
  },
  {
    description: 'SHELL KINGS CROSS',
    merchant: 'Shell',
    classification: ['Auto & Transport', 'Gas & Fuel'],
    minPence: 3000,
    maxPence: 7000,
    weight: 1,
  },
  {
    description: 'GOOGLE PLAY STORE',
    merchant: 'Google Play',
    classification: ['Entertainment', 'Games'],
    minPence: 99,
    maxPence: 999,
    weight: 1,
  },
];

const creditCardMerchants: Merchant[] = [
  {
    description: 'AMAZON.CO.UK',
    merchant: 'Amazon',
    classification: ['Shopping', 'General'],
    minPence: 799,
    maxPence: 12000,
    weight: 5,
    location: 'INTERNET',
  },
  {
    description: 'JOHN LEWIS OXFORD ST',
    merchant: 'John Lewis',
    classification: ['Shopping', 'Home'],
    minPence: 1500,
    maxPence: 18000,
    weight: 2,
    location: 'LONDON GB',
  },
  {
    description: 'TRAINLINE.COM',
    merchant: 'Trainline',
    classification: ['Travel', 'Rail'],
    minPence: 1200,
    maxPence: 9500,
    weight: 3,
    location: 'INTERNET',
  },
  {
    description: 'BOOKING.COM',
    merchant: 'Booking.com',
    classification: ['Travel', 'Hotels'],
    minPence: 6000,
    maxPence: 32000,
    weight: 1,
    location: 'INTERNET',
  },
  {
    description: 'APPLE.COM/BILL',
    merchant: 'Apple',
    classification: ['Entertainment', 'Apps'],
    minPence: 79,
    maxPence: 1499,
    weight: 2,
    location: 'INTERNET',
  },
  {
    description: 'ARGOS LTD',
    merchant: 'Argos',
    classification: ['Shopping', 'Electronics'],
    minPence: 1000,
    maxPence: 9000,
    weight: 2,
    location: 'MILTON KEYNES GB',
  },
  {
    description: 'TALKTALK TELECOM',
    merchant: 'Talktalk',
    classification: ['Bills and Utilities', 'Internet'],
    minPence: 2000,
    maxPence: 4700,
    weight: 1,
    location: 'INTERNET',
  },
  {
    description: 'EASYJET AIRLINE',
    merchant: 'easyJet',
    classification: ['Travel', 'Air Travel'],
    minPence: 3500,
    maxPence: 21000,
    weight: 1,
    location: 'INTERNET',
  },
];

const employers = ['ACME LTD', 'GLOBEX PLC', 'INITECH UK LTD', 'HOOLI EUROPE LTD', 'STARK INDUSTRIES UK'];
const landlords = ['J SMITH LETTINGS', 'FOXTONS RENT', 'HOMEWISE LETTINGS', 'A PATEL'];
const councils = ['LB CAMDEN CTAX', 'LB HACKNEY CTAX', 'RB KINGSTON CTAX', 'LB ISLINGTON CTAX'];
const friends = ['J SMITH', 'A KHAN', 'M JONES', 'S WILLIAMS', 'R BROWN'];

type Json = Record<string, unknown>;

const clamp = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, value));

const pickWeighted = (rng: SeededRandom, merchants: readonly Merchant[]): Merchant => {
  const total = merchants.reduce((sum, merchant) => sum + merchant.weight, 0);
  let roll = rng.next() * total;
  for (const merchant of merchants) {
    roll -= merchant.weight;
    if (roll < 0) return merchant;
  }
  return merchants[merchants.length - 1] as Merchant;
};

const digits = (text: string, length: number): string => {
  let out = '';
  let round = 0;
  while (out.length < length) {
    out += String(hashSeed(`${round}:${text}`)).padStart(10, '0');
    round += 1;
  }
  return out.slice(0, length);
};

/** ISO 13616 check digits for a GB IBAN. */
const gbIban = (bankCode: string, sortCode: string, number: string): string => {
  const bban = `${bankCode}${sortCode.replace(/-/g, '')}${number}`;
  const numeric = `${bban}GB00`.replace(/[A-Z]/g, (letter) => String(letter.charCodeAt(0) - 55));
  let remainder = 0;
  for (const digit of numeric) remainder = (remainder * 10 + Number(digit)) % 97;
  return `GB${String(98 - remainder).padStart(2, '0')}${bban}`;
};

const displayName = (username: string): { fullName: string; email: string; phone: string } => {
  const numbered = /^john(\d+)$/.exec(username);
  const suffix = numbered?.[1] ?? '';
  return {
    fullName: 'John Doe',
    email: `john${suffix}.doe@example.com`,
    // Ofcom's drama range: never a real number.
    phone: `+447700900${digits(`phone|${username}`, 3)}`,
  };
};

const buildProfile = (username: string): Profile => {
  const rng = new SeededRandom(`profile|${username}`);
  const salaryPence = rng.int(26, 38) * 10_000;
  const sortCode = `04-00-${String(rng.int(10, 99))}`;
  return {
    ...displayName(username),
    employer: rng.pick(employers),
    salaryPence,
    rentPence: Math.round((salaryPence * rng.int(28, 36)) / 100 / 1000) * 1000,
    landlord: rng.pick(landlords),
    savingsPence: Math.round((salaryPence * rng.int(5, 10)) / 100 / 1000) * 1000,
    councilTaxPence: rng.pence(12_000, 19_000),
    gymPence: rng.pick([2499, 2999, 3499, 3999]),
    mobilePence: rng.pick([1800, 2200, 2500, 3200]),
    broadbandPence: rng.pick([2500, 2999, 3500, 3999]),
    energyBasePence: rng.pence(6_500, 11_000),
    targetPence: rng.int(15, 25) * 10_000,
    creditLimitPence: rng.int(4, 10) * 50_000,
    sortCode,
    currentNumber: digits(`current|${username}`, 8),
    savingsNumber: digits(`savings|${username}`, 8),
    cardFirst4: '4000',
    cardLast4: digits(`card|${username}`, 4),
    providerAccountId: stableUuid(`provider-account|${username}`),
    council: rng.pick(councils),
  };
};

const startOfUtcDay = (ms: number): number => Math.floor(ms / dayMs) * dayMs;

const daysInMonth = (year: number, month: number): number => new Date(Date.UTC(year, month + 1, 0)).getUTCDate();

/** Salary day: the 25th, or the Friday before when it falls on a weekend. */
const payday = (year: number, month: number): number => {
  const weekday = new Date(Date.UTC(year, month, 25)).getUTCDay();
  if (weekday === 6) return 24;
  if (weekday === 0) return 23;
  return 25;
};

export const formatTimestamp = (ms: number, style: TimestampStyle): string => {
  const iso = new Date(ms).toISOString();
  if (style === 'zulu') return iso;
  const seconds = iso.slice(0, 19);
  return style === 'plain' ? seconds : `${seconds}+00:00`;
};

const isoDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export interface TransactionFilter {
  fromMs: number;
  toMs: number;
}

/** One user's bank: generates days on demand and answers every Data API read. */
export class MockBank {
  private readonly profile: Profile;
  private readonly ledgers: Record<AccountKind, Ledger>;
  private readonly seqs: Record<AccountKind, number> = { current: 0, savings: 0, card: 0 };
  private readonly balances: Record<AccountKind, number>;
  /** Card statements: balance owed on the 1st of each month, repaid in full on the 15th. */
  private readonly statements: { at: number; pence: number }[] = [];
  /** Entries already generated whose posting day has not been generated yet, by posting day. */
  private readonly scheduled: Record<AccountKind, Map<number, NewEntry[]>> = { current: new Map(), savings: new Map(), card: new Map() };
  private generatedDays = 0;
  private spendFactor = 1;

  constructor(readonly username: string) {
    this.profile = buildProfile(username);
    const opening = new SeededRandom(`opening|${username}`);
    this.ledgers = {
      current: {
        id: stableHex(`account|current|${username}`, 32),
        kind: 'current',
        openingPence: opening.int(12, 25) * 10_000 + opening.int(0, 99),
        entries: [],
      },
      savings: {
        id: stableHex(`account|savings|${username}`, 32),
        kind: 'savings',
        openingPence: opening.int(20, 60) * 10_000,
        entries: [],
      },
      card: { id: stableHex(`card|${username}`, 40), kind: 'card', openingPence: 0, entries: [] },
    };
    this.balances = { current: this.ledgers.current.openingPence, savings: this.ledgers.savings.openingPence, card: 0 };
  }

  get currentAccountId(): string {
    return this.ledgers.current.id;
  }

  get savingsAccountId(): string {
    return this.ledgers.savings.id;
  }

  get cardId(): string {
    return this.ledgers.card.id;
  }

  accountKind(accountId: string): 'current' | 'savings' | undefined {
    if (accountId === this.ledgers.current.id) return 'current';
    if (accountId === this.ledgers.savings.id) return 'savings';
    return undefined;
  }

  isCard(accountId: string): boolean {
    return accountId === this.ledgers.card.id;
  }

  // ---- generation -------------------------------------------------------------------------

  private ensureGenerated(nowMs: number): void {
    const lastDay = Math.floor((startOfUtcDay(nowMs) - ledgerStartMs) / dayMs);
    while (this.generatedDays <= lastDay) {
      this.generateDay(this.generatedDays);
      this.generatedDays += 1;
    }
  }

  private generateDay(dayIndex: number): void {
    const dayStart = ledgerStartMs + dayIndex * dayMs;
    const date = new Date(dayStart);
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth();
    const dom = date.getUTCDate();
    const lastDom = daysInMonth(year, month);
    const p = this.profile;
    const rng = new SeededRandom(`${this.username}|day|${dayIndex}`);
    const day: Record<AccountKind, NewEntry[]> = { current: [], savings: [], card: [] };
    const at = (hours: number, minutes = 0, seconds = 0): number => dayStart + ((hours * 60 + minutes) * 60 + seconds) * 1000;
    const randomTime = (fromHour: number, toHour: number): number => at(rng.int(fromHour, toHour - 1), rng.int(0, 59), rng.int(0, 59));
    const yearsIn = year - new Date(ledgerStartMs).getUTCFullYear();

    const directDebit = (description: string, pence: number, classification: string[]): void => {
      day.current.push({
        at: at(0),
        style: 'plain',
        amount: -pence,
        description,
        category: 'DIRECT_DEBIT',
        classification,
        providerCategory: 'DD',
        reference: description.slice(0, 18),
      });
    };
    /**
     * A card purchase: authorised now, posted in the small hours a day or two later. Debit-card
     * purchases always take two days, so yesterday's are still pending at any time today.
     */
    const cardPurchase = (kind: 'current' | 'card', authorisedAt: number, entry: Omit<NewEntry, 'at' | 'authorisedAt'>): void => {
      const lagDays = kind === 'current' ? 2 : rng.int(1, 2);
      const posted = startOfUtcDay(authorisedAt) + lagDays * dayMs + rng.int(3_600, 5 * 3_600) * 1000;
      day[kind].push({ ...entry, at: posted, authorisedAt });
    };

    if (dom === 1) {
      // Spend a little more when the balance runs above the user's comfort level, less when below.
      this.spendFactor = clamp(1 + (this.balances.current - p.targetPence) / (p.salaryPence * 0.8), 0.6, 1.5);
      this.statements.push({ at: dayStart, pence: Math.max(0, this.balances.card) });
      day.current.push({
        at: at(0),
        style: 'plain',
        amount: -p.rentPence,
        description: `${p.landlord} RENT`,
        category: 'STANDING_ORDER',
        classification: ['Home', 'Rent'],
        providerCategory: 'SO',
        reference: 'RENT',
      });
      // Council tax is paid in ten instalments, April to January.
      if (month !== 1 && month !== 2) directDebit(p.council, p.councilTaxPence, ['Bills and Utilities', 'Council Tax']);
    }
    if (dom === 3) {
      cardPurchase('current', randomTime(2, 6), {
        style: 'offset',
        amount: -(1099 + yearsIn * 100),
        description: 'NETFLIX.COM',
        category: 'PURCHASE',
        classification: ['Entertainment', 'Movies & DVDs'],
        merchant: 'Netflix',
        providerCategory: 'DEB',
      });
    }
    if (dom === 5) directDebit('PUREGYM LTD', p.gymPence, ['Health & Fitness', 'Gym']);
    if (dom === 10) {
      const seasonal = 1 + 0.45 * Math.cos(((month + 0.5) / 12) * 2 * Math.PI);
      directDebit('EDF ENERGY', Math.round(p.energyBasePence * seasonal), ['Bills and Utilities', 'Utilities']);
    }
    if (dom === 12) {
      cardPurchase('current', randomTime(3, 7), {
        style: 'offset',
        amount: -1199,
        description: 'SPOTIFY P1A2B3C4D5',
        category: 'PURCHASE',
        classification: ['Entertainment', 'Music'],
        merchant: 'Spotify',
        providerCategory: 'DEB',
      });
    }
    if (dom === 15) {
      const statement = this.statements[this.statements.length - 1];
      if (statement !== undefined && statement.pence > 0) {
        directDebit('MOCK BANK CREDIT CARD', statement.pence, ['Bills and Utilities', 'Credit Card']);
        day.card.push({
          at: at(4),
          style: 'zulu',
          amount: -statement.pence,
          description: 'PAYMENT RECEIVED - THANK YOU',
          category: 'CREDIT',
          classification: [],
          providerCategory: 'PAY',
          location: 'INTERNET',
        });
      }
    }
    if (dom === 17) directDebit('EE LIMITED', p.mobilePence, ['Bills and Utilities', 'Mobile Phone']);
    if (dom === 18) directDebit('BT INTERNET', p.broadbandPence, ['Bills and Utilities', 'Internet']);
    if (dom === payday(year, month)) {
      const salary = Math.round(p.salaryPence * (1 + 0.03 * yearsIn));
      day.current.push({
        at: at(6),
        style: 'zulu',
        amount: salary,
        description: `${p.employer} SALARY`,
        category: 'CREDIT',
        classification: ['Income', 'Salary'],
        providerCategory: 'BGC',
        reference: 'SALARY',
      });
    }
    if (dom === 26) {
      day.current.push({
        at: at(0),
        style: 'plain',
        amount: -p.savingsPence,
        description: 'TO SAVINGS ACCOUNT',
        category: 'STANDING_ORDER',
        classification: ['Transfer', 'Savings'],
        providerCategory: 'SO',
        reference: 'SAVINGS',
      });
      day.savings.push({
        at: at(1),
        style: 'zulu',
        amount: p.savingsPence,
        description: 'FROM CURRENT ACCOUNT',
        category: 'TRANSFER',
        classification: ['Transfer', 'Savings'],
        providerCategory: 'TFR',
        reference: 'SAVINGS',
      });
    }
    if (dom === 27) {
      // The user sweeps money between the accounts by hand, which keeps the current account in a
      // believable range over years of history.
      const projected = this.balances.current - p.rentPence;
      const excess = projected - p.targetPence;
      const sweep = Math.round((Math.abs(excess) * 0.7) / 1000) * 1000;
      if (excess > 30_000 && sweep > 0) {
        day.current.push({
          at: randomTime(18, 22),
          style: 'offset',
          amount: -sweep,
          description: 'TRANSFER TO INSTANT SAVER',
          category: 'TRANSFER',
          classification: ['Transfer', 'Savings'],
          providerCategory: 'TFR',
          reference: 'TOP UP',
        });
        day.savings.push({
          at: at(23),
          style: 'zulu',
          amount: sweep,
          description: 'TRANSFER FROM CURRENT ACCOUNT',
          category: 'TRANSFER',
          classification: ['Transfer', 'Savings'],
          providerCategory: 'TFR',
          reference: 'TOP UP',
        });
      } else if (excess < -30_000 && sweep > 0 && this.balances.savings > sweep) {
        day.savings.push({
          at: randomTime(18, 22),
          style: 'zulu',
          amount: -sweep,
          description: 'TRANSFER TO CURRENT ACCOUNT',
          category: 'TRANSFER',
          classification: ['Transfer', 'Savings'],
          providerCategory: 'TFR',
          reference: 'TOP UP',
        });
        day.current.push({
          at: at(23),
          style: 'offset',
          amount: sweep,
          description: 'TRANSFER FROM INSTANT SAVER',
          category: 'TRANSFER',
          classification: ['Transfer', 'Savings'],
          providerCategory: 'TFR',
          reference: 'TOP UP',
        });
      }
    }
    if (dom === 28) {
      day.current.push({
        at: at(0),
        style: 'plain',
        amount: -300,
        description: 'MONTHLY ACCOUNT FEE',
        category: 'FEE_CHARGE',
        classification: ['Fees & Charges', 'Bank Fee'],
        providerCategory: 'FEE',
      });
    }
    if (dom === lastDom) {
      const interest = Math.round((Math.max(0, this.balances.savings) * 0.035) / 12);
      if (interest > 0)
        day.savings.push({
          at: at(23, 30),
          style: 'zulu',
          amount: interest,
          description: 'GROSS INTEREST',
          category: 'INTEREST',
          classification: ['Income', 'Interest'],
          providerCategory: 'INT',
        });
    }

    // Everyday spending on the debit card: at least one purchase a day, so something is always pending.
    const purchases = 1 + (rng.chance(0.2 * this.spendFactor) ? 1 : 0) + (rng.chance(0.05 * this.spendFactor) ? 1 : 0);
    for (let index = 0; index < purchases; index += 1) {
      const merchant = pickWeighted(rng, debitCardMerchants);
      const pence = Math.round(rng.pence(merchant.minPence, merchant.maxPence) * this.spendFactor);
      cardPurchase('current', randomTime(7, 23), {
        style: 'offset',
        amount: -pence,
        description: merchant.description,
        category: 'PURCHASE',
        classification: [...merchant.classification],
        merchant: merchant.merchant,
        providerCategory: 'DEB',
      });
    }
    if (rng.chance(0.05)) {
      const pence = rng.pick([2000, 3000, 4000, 5000, 10000]);
      day.current.push({
        at: randomTime(9, 22),
        style: 'offset',
        amount: -pence,
        description: 'CASH WITHDRAWAL LINK ATM',
        category: 'ATM',
        classification: ['Cash', 'ATM'],
        providerCategory: 'CPT',
      });
    }
    if (rng.chance(0.03)) {
      const friend = rng.pick(friends);
      day.current.push({
        at: randomTime(8, 22),
        style: 'offset',
        amount: rng.pence(1000, 6000),
        description: `${friend} FASTER PAYMENT`,
        category: 'TRANSFER',
        classification: [],
        providerCategory: 'FPI',
        reference: 'THANKS',
      });
    }
    // The credit card: fewer, larger purchases.
    const cardPurchases = (rng.chance(0.25 * this.spendFactor) ? 1 : 0) + (rng.chance(0.04) ? 1 : 0);
    for (let index = 0; index < cardPurchases; index += 1) {
      const merchant = pickWeighted(rng, creditCardMerchants);
      const pence = rng.pence(merchant.minPence, merchant.maxPence);
      cardPurchase('card', randomTime(8, 23), {
        style: rng.chance(0.5) ? 'offset' : 'zulu',
        amount: pence,
        description: merchant.description,
        category: 'PURCHASE',
        classification: [...merchant.classification],
        merchant: merchant.merchant,
        providerCategory: 'PUR',
        location: merchant.location ?? 'INTERNET',
      });
    }
    if (rng.chance(0.01) && this.balances.card > 2000) {
      day.card.push({
        at: randomTime(9, 18),
        style: 'zulu',
        amount: -rng.pence(500, Math.min(5000, this.balances.card)),
        description: 'REFUND AMAZON.CO.UK',
        category: 'CREDIT',
        classification: ['Shopping', 'General'],
        merchant: 'Amazon',
        providerCategory: 'REF',
        location: 'INTERNET',
      });
    }

    const dayEnd = dayStart + dayMs;
    for (const kind of ['current', 'savings', 'card'] as const) {
      const due = this.scheduled[kind].get(dayIndex) ?? [];
      this.scheduled[kind].delete(dayIndex);
      for (const entry of day[kind]) {
        if (entry.at < dayEnd) {
          due.push(entry);
          continue;
        }
        const postingDay = Math.floor((entry.at - ledgerStartMs) / dayMs);
        const later = this.scheduled[kind].get(postingDay) ?? [];
        later.push(entry);
        this.scheduled[kind].set(postingDay, later);
      }
      due.sort((left, right) => left.at - right.at || (left.authorisedAt ?? left.at) - (right.authorisedAt ?? right.at));
      for (const entry of due) {
        this.seqs[kind] += 1;
        this.ledgers[kind].entries.push({ ...entry, seq: this.seqs[kind] });
        this.balances[kind] += entry.amount;
      }
    }
  }

  // ---- reads ------------------------------------------------------------------------------

  /** Posted entries (with running balance) and pending ones, as the bank sees them at `nowMs`. */
  private view(
    kind: AccountKind,
    nowMs: number,
  ): { settled: { entry: LedgerEntry; balance: number }[]; pending: NewEntry[]; balance: number } {
    this.ensureGenerated(nowMs);
    const ledger = this.ledgers[kind];
    const settled: { entry: LedgerEntry; balance: number }[] = [];
    const pending: NewEntry[] = [];
    let balance = ledger.openingPence;
    for (const entry of ledger.entries) {
      if (entry.at <= nowMs) {
        balance += entry.amount;
        settled.push({ entry, balance });
      } else if (entry.authorisedAt !== undefined && entry.authorisedAt <= nowMs) {
        pending.push(entry);
      }
    }
    for (const entries of this.scheduled[kind].values()) {
      for (const entry of entries) if (entry.authorisedAt !== undefined && entry.authorisedAt <= nowMs) pending.push(entry);
    }
    pending.sort((left, right) => (left.authorisedAt ?? left.at) - (right.authorisedAt ?? right.at));
    return { settled, pending, balance };
  }

  info(nowMs: number): Json {
    return {
      full_name: this.profile.fullName,
      emails: [this.profile.email],
      phones: [this.profile.phone],
      update_timestamp: new Date(nowMs).toISOString(),
    };
  }

  accounts(nowMs: number): Json[] {
    const p = this.profile;
    const updated = new Date(nowMs).toISOString();
    const account = (id: string, type: 'TRANSACTION' | 'SAVINGS', name: string, number: string): Json => ({
      update_timestamp: updated,
      account_id: id,
      account_type: type,
      display_name: name,
      currency: 'GBP',
      account_number: { iban: gbIban('MOCK', p.sortCode, number), number, sort_code: p.sortCode, swift_bic: 'MOCKGB21' },
      provider: { ...mockProvider },
    });
    return [
      account(this.ledgers.current.id, 'TRANSACTION', 'Current Account', p.currentNumber),
      account(this.ledgers.savings.id, 'SAVINGS', 'Instant Saver', p.savingsNumber),
    ];
  }

  accountBalance(kind: 'current' | 'savings', nowMs: number): Json {
    const { pending, balance } = this.view(kind, nowMs);
    const pendingPence = pending.reduce((sum, entry) => sum + entry.amount, 0);
    const updated = new Date(nowMs).toISOString();
    if (kind === 'savings') return { currency: 'GBP', available: balance / 100, current: balance / 100, update_timestamp: updated };
    const overdraft = 50_000;
    return {
      currency: 'GBP',
      available: (balance + pendingPence + overdraft) / 100,
      current: balance / 100,
      overdraft: overdraft / 100,
      update_timestamp: updated,
    };
  }

  transactions(kind: AccountKind, nowMs: number, filter: TransactionFilter): Json[] {
    const { settled } = this.view(kind, nowMs);
    const from = Math.max(filter.fromMs, nowMs - historyWindowMs);
    const results: Json[] = [];
    for (let index = settled.length - 1; index >= 0; index -= 1) {
      const item = settled[index];
      if (item === undefined || item.entry.at < from) break;
      if (item.entry.at > filter.toMs) continue;
      results.push(this.settledJson(kind, item.entry, item.balance));
    }
    return results;
  }

  pendingTransactions(kind: AccountKind, nowMs: number): Json[] {
    return this.view(kind, nowMs)
      .pending.reverse()
      .map((entry) => this.transactionJson(kind, entry, 'pending', entry.authorisedAt ?? entry.at, undefined));
  }

  private settledJson(kind: AccountKind, entry: LedgerEntry, balance: number): Json {
    entry.json ??= this.transactionJson(kind, entry, `settled|${entry.seq}`, entry.at, balance);
    return entry.json;
  }

  private transactionJson(kind: AccountKind, entry: NewEntry, idKey: string, timestampMs: number, balance: number | undefined): Json {
    const ledgerId = this.ledgers[kind].id;
    // The normalised id is the one that survives a purchase moving from pending to posted.
    const purchaseKey = `${ledgerId}|${entry.authorisedAt ?? entry.at}|${entry.description}|${entry.amount}`;
    const providerId = stableHex(`provider-tx|${purchaseKey}`, 12);
    const isCard = kind === 'card';
    const debit = isCard ? entry.amount > 0 : entry.amount < 0;
    const meta: Json = isCard
      ? {
          provider_transaction_category: entry.providerCategory,
          cardNumber: `${this.profile.cardFirst4}********${this.profile.cardLast4}`,
          location: entry.location ?? 'INTERNET',
        }
      : {
          bank_transaction_id: providerId,
          provider_transaction_category: entry.providerCategory,
          ...(entry.reference === undefined ? {} : { provider_reference: entry.reference }),
        };
    return {
      transaction_id: stableHex(`${ledgerId}|${idKey}|${entry.amount}`, 32),
      normalised_provider_transaction_id: `txn-${stableHex(`normalised|${purchaseKey}`, 17)}`,
      provider_transaction_id: providerId,
      timestamp: formatTimestamp(timestampMs, entry.style),
      description: entry.description,
      amount: entry.amount / 100,
      currency: 'GBP',
      transaction_type: debit ? 'DEBIT' : 'CREDIT',
      transaction_category: entry.category,
      transaction_classification: [...entry.classification],
      ...(entry.merchant === undefined ? {} : { merchant_name: entry.merchant }),
      ...(balance === undefined ? {} : { running_balance: { amount: balance / 100, currency: 'GBP' } }),
      meta,
    };
  }

  standingOrders(kind: 'current' | 'savings', nowMs: number): Json[] {
    if (kind === 'savings') return [];
    const p = this.profile;
    const today = new Date(startOfUtcDay(nowMs));
    const nextOn = (dom: number): string => {
      // A standing order runs at midnight, so today's has already gone.
      const thisMonth = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), dom);
      const next = thisMonth > today.getTime() ? thisMonth : Date.UTC(today.getUTCFullYear(), today.getUTCMonth() + 1, dom);
      return formatTimestamp(next, 'offset');
    };
    const timestamp = formatTimestamp(nowMs, 'offset');
    /** A monthly order on day `dom` since January 2021, open-ended. */
    const monthly = (dom: number, pence: number, payee: string, reference: string) => ({
      frequency: `IntrvlMnthDay:01:${String(dom).padStart(2, '0')}`,
      status: 'Active',
      timestamp,
      currency: 'GBP',
      meta: { provider_account_id: p.providerAccountId },
      next_payment_date: nextOn(dom),
      next_payment_amount: pence / 100,
      first_payment_date: formatTimestamp(Date.UTC(2021, 0, dom), 'offset'),
      first_payment_amount: pence / 100,
      final_payment_date: '9999-12-31T00:00:00+00:00',
      final_payment_amount: pence / 100,
      payee,
      reference,
    });
    return [monthly(1, p.rentPence, p.landlord, 'RENT'), monthly(26, p.savingsPence, p.fullName.toUpperCase(), 'SAVINGS')];
  }

  directDebits(kind: 'current' | 'savings', nowMs: number): Json[] {
    if (kind === 'savings') return [];
    const p = this.profile;
    const { settled } = this.view('current', nowMs);
    const lastPayment = (name: string): LedgerEntry | undefined => {
      for (let index = settled.length - 1; index >= 0; index -= 1) {
        const entry = settled[index]?.entry;
        if (entry !== undefined && entry.category === 'DIRECT_DEBIT' && entry.description === name) return entry;
      }
      return undefined;
    };
    const timestamp = formatTimestamp(nowMs, 'offset');
    const mandates: { name: string; mandate: string }[] = [
      { name: p.council, mandate: `CT${digits(`ct|${this.username}`, 8)}` },
      { name: 'PUREGYM LTD', mandate: `PG-${digits(`gym|${this.username}`, 7)}` },
      { name: 'EDF ENERGY', mandate: digits(`edf|${this.username}`, 10) },
      { name: 'MOCK BANK CREDIT CARD', mandate: `${p.cardFirst4}XXXXXXXX${p.cardLast4}` },
      { name: 'EE LIMITED', mandate: `EE${digits(`ee|${this.username}`, 9)}` },
      { name: 'BT INTERNET', mandate: `BT${digits(`bt|${this.username}`, 8)}` },
    ];
    const active = mandates.map(({ name, mandate }) => {
      const last = lastPayment(name);
      return {
        direct_debit_id: stableHex(`dd|${this.ledgers.current.id}|${name}`, 32),
        timestamp,
        name,
        status: 'Active',
        ...(last === undefined
          ? {}
          : { previous_payment_timestamp: formatTimestamp(last.at, 'offset'), previous_payment_amount: -last.amount / 100 }),
        currency: 'GBP',
        meta: {
          provider_mandate_identification: mandate,
          provider_account_id: p.providerAccountId,
          provider_direct_debit_id: stableUuid(`dd-provider|${this.username}|${name}`),
        },
      };
    });
    const cancelled = {
      direct_debit_id: stableHex(`dd|${this.ledgers.current.id}|SKY`, 32),
      timestamp,
      name: 'SKY DIGITAL',
      status: 'Inactive',
      previous_payment_timestamp: '2021-03-14T00:00:00+00:00',
      previous_payment_amount: 41,
      currency: 'GBP',
      meta: { provider_mandate_identification: `SKY${digits(`sky|${this.username}`, 7)}`, provider_account_id: p.providerAccountId },
    };
    return [...active, cancelled];
  }

  cards(nowMs: number): Json[] {
    const year = new Date(nowMs).getUTCFullYear();
    const issuedMonth = (hashSeed(`card-month|${this.username}`) % 12) + 1;
    const issuedYear = year - (hashSeed(`card-year|${this.username}`) % 3);
    const month = String(issuedMonth).padStart(2, '0');
    return [
      {
        account_id: this.ledgers.card.id,
        card_network: 'VISA',
        card_type: 'CREDIT',
        currency: 'GBP',
        display_name: 'Mock Rewards Credit Card',
        partial_card_number: this.profile.cardLast4,
        name_on_card: this.profile.fullName,
        valid_from: `${issuedYear}-${month}`,
        valid_to: `${issuedYear + 4}-${month}`,
        update_timestamp: new Date(nowMs).toISOString(),
        provider: { provider_id: mockProvider.provider_id },
      },
    ];
  }

  cardBalance(nowMs: number): Json {
    const { pending, balance } = this.view('card', nowMs);
    const pendingPence = pending.reduce((sum, entry) => sum + entry.amount, 0);
    const statement = [...this.statements].reverse().find((item) => item.at <= nowMs);
    const dueDate = statement === undefined ? undefined : statement.at + 14 * dayMs;
    const paid = dueDate === undefined || nowMs >= dueDate;
    return {
      available: (this.profile.creditLimitPence - balance - pendingPence) / 100,
      currency: 'GBP',
      current: balance / 100,
      credit_limit: this.profile.creditLimitPence / 100,
      ...(statement === undefined || dueDate === undefined
        ? {}
        : {
            last_statement_balance: statement.pence / 100,
            last_statement_date: isoDate(statement.at),
            payment_due: paid ? 0 : statement.pence / 100,
            payment_due_date: isoDate(dueDate),
          }),
      update_timestamp: new Date(nowMs).toISOString(),
    };
  }
}

/** `john`/`busy`: transactions on a fixed grid, so any two years hold 50,000 of them. */
export const busyTransactionSpacingMs = historyWindowMs / 50_000;

/**
 * The busy user's bank: the current account carries 50,000 transactions over any two years, one
 * every 21 minutes or so on a grid fixed to the epoch. Each is built from its grid index alone, so a
 * range costs only the transactions in it, and the same index always gives the same transaction.
 * The other accounts are an ordinary user's.
 */
export class BusyMockBank extends MockBank {
  override transactions(kind: AccountKind, nowMs: number, filter: TransactionFilter): Json[] {
    if (kind !== 'current') return super.transactions(kind, nowMs, filter);
    const from = Math.max(filter.fromMs, nowMs - historyWindowMs);
    const to = Math.min(filter.toMs, nowMs);
    const results: Json[] = [];
    for (let index = Math.floor(to / busyTransactionSpacingMs); index * busyTransactionSpacingMs >= from; index -= 1) {
      results.push(this.busyTransaction(index));
    }
    return results;
  }

  private busyTransaction(index: number): Json {
    const rng = new SeededRandom(`busy|${this.username}|${index}`);
    const ledgerId = this.currentAccountId;
    const credit = rng.chance(0.3);
    const merchant = pickWeighted(rng, debitCardMerchants);
    const pence = credit ? rng.pence(2_000, 250_000) : rng.pence(merchant.minPence, merchant.maxPence * 3);
    const description = credit ? `INVOICE ${String(index % 100_000).padStart(5, '0')} PAID` : merchant.description;
    const providerId = stableHex(`busy-provider-tx|${ledgerId}|${index}`, 12);
    return {
      transaction_id: stableHex(`busy|${ledgerId}|${index}`, 32),
      normalised_provider_transaction_id: `txn-${stableHex(`busy-normalised|${ledgerId}|${index}`, 17)}`,
      provider_transaction_id: providerId,
      timestamp: formatTimestamp(index * busyTransactionSpacingMs, 'zulu'),
      description,
      amount: (credit ? pence : -pence) / 100,
      currency: 'GBP',
      transaction_type: credit ? 'CREDIT' : 'DEBIT',
      transaction_category: credit ? 'CREDIT' : 'PURCHASE',
      transaction_classification: credit ? ['Income', 'Business'] : [...merchant.classification],
      ...(credit ? {} : { merchant_name: merchant.merchant }),
      meta: { bank_transaction_id: providerId, provider_transaction_category: credit ? 'BGC' : 'DEB' },
    };
  }
}

/** One bank per username (and one for the busy user), built on first use so the simulator starts fast. */
export class MockBankDirectory {
  private readonly banks = new Map<string, MockBank>();

  forUser(username: string, busy = false): MockBank {
    const key = `${busy ? 'busy' : 'plain'}|${username}`;
    let bank = this.banks.get(key);
    if (bank === undefined) {
      bank = busy ? new BusyMockBank(`${username}.busy`) : new MockBank(username);
      this.banks.set(key, bank);
    }
    return bank;
  }
}
