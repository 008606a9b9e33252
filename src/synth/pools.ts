import { fakerEN_GB } from '@faker-js/faker';

/** Common forenames in an English inner-city borough, most common first (the order drives frequency). */
export const FEMALE_FORENAMES = [
  'Olivia', 'Amelia', 'Isla', 'Ava', 'Mia', 'Grace', 'Sophia', 'Lily', 'Emily', 'Freya', 'Aisha', 'Fatima', 'Maryam', 'Zara', 'Chloe',
  'Jessica', 'Sarah', 'Emma', 'Hannah', 'Ella', 'Ruby', 'Evie', 'Poppy', 'Charlotte', 'Sophie', 'Katherine', 'Elizabeth', 'Margaret',
  'Victoria', 'Rebecca', 'Jennifer', 'Samantha', 'Abigail', 'Deborah', 'Patricia', 'Susan', 'Christine', 'Michelle', 'Nicola',
  'Natalie', 'Amy', 'Laura', 'Lucy', 'Megan', 'Ellie', 'Holly', 'Jade', 'Leah', 'Keisha', 'Chantelle', 'Shanice', 'Adaeze', 'Chioma',
  'Ngozi', 'Funmilayo', 'Amina', 'Khadija', 'Priya', 'Anjali', 'Harpreet', 'Agnieszka', 'Katarzyna', 'Ioana', 'Elena', 'Maria',
  'Ana', 'Gabriela', 'Nadia', 'Yasmin', 'Layla', 'Nia', 'Imani', 'Destiny', 'Precious', 'Blessing', 'Joy', 'Faith', 'Naomi', 'Ruth',
  'Esther', 'Eleanor', 'Alice', 'Florence', 'Matilda', 'Rosie', 'Daisy', 'Phoebe', 'Scarlett', 'Willow', 'Harper', 'Evelyn', 'Sienna',
];
export const MALE_FORENAMES = [
  'Oliver', 'George', 'Noah', 'Muhammad', 'Harry', 'Jack', 'Leo', 'Oscar', 'Charlie', 'Jacob', 'Thomas', 'James', 'William', 'Daniel',
  'Joshua', 'Samuel', 'Joseph', 'Alexander', 'Benjamin', 'Michael', 'David', 'Robert', 'Richard', 'Christopher', 'Matthew', 'Andrew',
  'Anthony', 'Edward', 'Jonathan', 'Nicholas', 'Stephen', 'Peter', 'Paul', 'Mark', 'John', 'Kevin', 'Jason', 'Dean', 'Wayne', 'Liam',
  'Connor', 'Callum', 'Kyle', 'Jordan', 'Tyrone', 'Jermaine', 'Kwame', 'Kofi', 'Chinedu', 'Oluwaseun', 'Emeka', 'Tunde', 'Ibrahim',
  'Yusuf', 'Ali', 'Omar', 'Hassan', 'Abdul', 'Mohammed', 'Ahmed', 'Arjun', 'Rohan', 'Sanjay', 'Harjit', 'Piotr', 'Tomasz', 'Jakub',
  'Andrei', 'Mihai', 'Luca', 'Marco', 'Diego', 'Mateo', 'Ethan', 'Mason', 'Logan', 'Lucas', 'Theo', 'Freddie', 'Alfie', 'Archie',
  'Henry', 'Arthur', 'Finley', 'Reuben', 'Isaac', 'Elijah', 'Caleb', 'Nathan', 'Aaron', 'Reggie', 'Frankie', 'Stanley', 'Teddy',
];
export const SURNAMES = [
  'Smith', 'Jones', 'Williams', 'Brown', 'Taylor', 'Davies', 'Wilson', 'Evans', 'Johnson', 'Thomas', 'Roberts', 'Walker', 'Wright',
  'Robinson', 'Thompson', 'White', 'Hughes', 'Edwards', 'Green', 'Hall', 'Wood', 'Harris', 'Lewis', 'Martin', 'Jackson', 'Clarke',
  'Clark', 'Turner', 'Hill', 'Scott', 'Cooper', 'Morris', 'Ward', 'Moore', 'King', 'Watson', 'Baker', 'Harrison', 'Morgan', 'Patel',
  'Young', 'Allen', 'Mitchell', 'James', 'Anderson', 'Phillips', 'Lee', 'Bell', 'Parker', 'Davis', 'Khan', 'Ahmed', 'Ali', 'Hussain',
  'Begum', 'Rahman', 'Islam', 'Uddin', 'Miah', 'Shah', 'Singh', 'Kaur', 'Sharma', 'Gupta', 'Okafor', 'Okonkwo', 'Adeyemi', 'Adebayo',
  'Mensah', 'Owusu', 'Boateng', 'Asante', 'Nwosu', 'Eze', 'Ogunleye', 'Campbell', 'Francis', 'Henry', 'Grant', 'Reid', 'Murray',
  "O'Brien", "O'Connor", 'McDonald', 'Kelly', 'Murphy', 'Byrne', 'Kowalski', 'Nowak', 'Wiśniewski', 'Popescu', 'Ionescu', 'Silva',
  'Santos', 'Ferreira', 'Costa', 'Rossi', 'Nguyen', 'Tran', 'Chen', 'Wang', 'Li', 'Ibrahim', 'Mohamed', 'Osman', 'Abdi', 'Farah',
  'Yilmaz', 'Demir', 'Papadopoulos', 'Fletcher', 'Bennett', 'Holmes', 'Lloyd', 'Price', 'Barnes', 'Knight', 'Webb', 'Mills', 'Carter',
  'Shaw', 'Fox', 'Pearce', 'Stevens', 'Dixon', 'Simpson', 'Marshall', 'Hunt', 'Palmer', 'Rose', 'Ellis', 'Graham', 'Gray', 'Payne',
];
/** Surnames that come double-barrelled or hyphenated, recorded in full by some systems and in part by others. */
export const DOUBLE_BARRELLED = [
  ['Smith', 'Jones'], ['Taylor', 'Brown'], ['Okafor', 'Williams'], ['Clarke', 'Mensah'], ['Davies', 'Khan'], ['Hall', 'Edwards'],
  ['Lloyd', 'Webber'], ['Bowes', 'Lyon'], ['Owusu', 'Campbell'], ['Reid', 'Martin'],
] as const;

/** Nicknames and diminutives, formal -> informal (records use either). */
export const NICKNAMES: Record<string, string[]> = {
  William: ['Bill', 'Will', 'Billy', 'Liam'], Katherine: ['Kate', 'Kathy', 'Katie'], Elizabeth: ['Liz', 'Beth', 'Lizzie', 'Betty'],
  Margaret: ['Maggie', 'Peggy', 'Meg'], James: ['Jim', 'Jimmy', 'Jamie'], Robert: ['Bob', 'Rob', 'Bobby'], Richard: ['Rick', 'Dick', 'Richie'],
  Christopher: ['Chris', 'Kit'], Matthew: ['Matt'], Andrew: ['Andy', 'Drew'], Anthony: ['Tony'], Edward: ['Ed', 'Eddie', 'Ted', 'Teddy'],
  Jonathan: ['Jon', 'Johnny'], Nicholas: ['Nick', 'Nicky'], Stephen: ['Steve'], Michael: ['Mike', 'Mick', 'Mickey'], Daniel: ['Dan', 'Danny'],
  Joshua: ['Josh'], Samuel: ['Sam', 'Sammy'], Joseph: ['Joe', 'Joey'], Alexander: ['Alex', 'Sandy'], Benjamin: ['Ben', 'Benny'],
  Thomas: ['Tom', 'Tommy'], David: ['Dave', 'Davy'], Peter: ['Pete'], John: ['Jack', 'Johnny'], Harry: ['Harold'], Charlie: ['Charles'],
  Frederick: ['Freddie', 'Fred'], Alfred: ['Alfie', 'Alf'], Archibald: ['Archie'], Henry: ['Harry', 'Hal'], Theodore: ['Theo'],
  Jacob: ['Jake'], Nathan: ['Nat'], Reginald: ['Reggie', 'Reg'], Francis: ['Frankie', 'Frank'], Stanley: ['Stan'],
  Victoria: ['Vicky', 'Tori'], Rebecca: ['Becky', 'Becca'], Jennifer: ['Jenny', 'Jen'], Samantha: ['Sam', 'Sammy'], Abigail: ['Abby', 'Abi'],
  Deborah: ['Debbie', 'Deb'], Patricia: ['Pat', 'Patty', 'Trish'], Susan: ['Sue', 'Susie'], Christine: ['Chris', 'Chrissie'],
  Michelle: ['Shelley'], Nicola: ['Nicky', 'Nikki'], Natalie: ['Nat'], Jessica: ['Jess', 'Jessie'], Eleanor: ['Ellie', 'Nell'],
  Florence: ['Flo'], Matilda: ['Tilly'], Charlotte: ['Lottie', 'Charlie'], Sophia: ['Sophie'], Olivia: ['Liv', 'Livvy'], Amelia: ['Millie'],
  Isabella: ['Bella', 'Izzy'], Gabriela: ['Gabby'], Alexandra: ['Alex', 'Sasha'], Oluwaseun: ['Seun'], Muhammad: ['Mo'], Mohammed: ['Mo'],
};

const fakerNames = fakerEN_GB.definitions.person as { last_name: { generic: readonly string[] }; first_name: { female: readonly string[]; male: readonly string[] } };

/**
 * The long tail of names (faker's en_GB lists, hundreds of each): real councils hold thousands of
 * distinct names, and a short list alone would make one resident in ten a Smith, far harder for
 * a matcher than real data (and candidate pairs grow with the square of a name's share).
 */
export const TAIL_SURNAMES: readonly string[] = fakerNames.last_name.generic;
export const TAIL_FEMALE_FORENAMES: readonly string[] = fakerNames.first_name.female;
export const TAIL_MALE_FORENAMES: readonly string[] = fakerNames.first_name.male;

/**
 * How steeply the common-name lists fall: a name at rank r of n is drawn with a share of about
 * (r/n)^(1/NAME_SKEW); at 1.3 the first of 170 surnames goes to about 2% of draws.
 */
export const NAME_SKEW = 1.3;

/** Street names (from faker's en_GB locale). */
export const STREETS: readonly string[] = (fakerEN_GB.definitions.location as { street_name: readonly string[] }).street_name;

/** Address word abbreviations that different systems apply. */
export const ABBREVIATIONS: Record<string, string> = {
  Road: 'Rd', Street: 'St', Avenue: 'Ave', Lane: 'Ln', Close: 'Cl', Drive: 'Dr', Court: 'Ct', Gardens: 'Gdns', Crescent: 'Cres',
  Place: 'Pl', Terrace: 'Terr', Square: 'Sq', Grove: 'Gr',
};

/** Postcode districts of a (synthetic) borough. */
export const DISTRICTS = ['SE1', 'SE5', 'SE11', 'SE15', 'SE16', 'SE17', 'SE21', 'SE22', 'SE24', 'SE27'];
